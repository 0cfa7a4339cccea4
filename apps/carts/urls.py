from django.urls import path

from apps.carts import views

app_name = "carts"
urlpatterns = [
    path("", views.cart_detail, name="cart-detail"),
    path("add/", views.cart_add, name="cart-add"),
    path("lines/<int:line_id>/", views.cart_line_update, name="cart-line-update"),
    path(
        "lines/<int:line_id>/remove/", views.cart_line_remove, name="cart-line-remove"
    ),
    path("coupons/", views.cart_coupon_apply, name="cart-coupon-apply"),
    path(
        "coupons/<str:code>/remove/",
        views.cart_coupon_remove,
        name="cart-coupon-remove",
    ),
]
