from django.urls import path

from apps.carts.api import views

urlpatterns = [
    path("carts/", views.CartCreateApi.as_view(), name="api-cart-create"),
    path(
        "carts/<uuid:cart_id>/", views.CartDetailApi.as_view(), name="api-cart-detail"
    ),
    path(
        "carts/<uuid:cart_id>/lines/",
        views.CartLineAddApi.as_view(),
        name="api-cart-line-add",
    ),
    path(
        "carts/<uuid:cart_id>/lines/<int:line_id>/",
        views.CartLineUpdateApi.as_view(),
        name="api-cart-line-update",
    ),
    path(
        "carts/<uuid:cart_id>/coupons/",
        views.CartCouponApplyApi.as_view(),
        name="api-cart-coupon-apply",
    ),
    path(
        "carts/<uuid:cart_id>/coupons/<str:code>/",
        views.CartCouponRemoveApi.as_view(),
        name="api-cart-coupon-remove",
    ),
    path(
        "carts/<uuid:cart_id>/merge/",
        views.CartMergeApi.as_view(),
        name="api-cart-merge",
    ),
]
