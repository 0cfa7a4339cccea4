from django.urls import path

from apps.inventory.api.views import CategoryListApi, ProductDetailApi, ProductListApi

urlpatterns = [
    path("products/", ProductListApi.as_view(), name="api-product-list"),
    path(
        "products/<slug:slug>/", ProductDetailApi.as_view(), name="api-product-detail"
    ),
    path("categories/", CategoryListApi.as_view(), name="api-category-list"),
]
