from django.urls import path

from apps.inventory import views

app_name = "inventory"

urlpatterns = [
    path("products/", views.product_list, name="product-list"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    path(
        "products/<slug:slug>/notify/",
        views.product_notify,
        name="product-notify",
    ),
]
