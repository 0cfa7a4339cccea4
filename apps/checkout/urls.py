from django.urls import path

from apps.checkout import credit_views, order_views, views

app_name = "checkout"
urlpatterns = [
    path("", views.checkout_start, name="start"),
    path("<uuid:checkout_id>/email/", views.checkout_email, name="email"),
    path(
        "<uuid:checkout_id>/shipping-address/",
        views.checkout_shipping_address,
        name="shipping-address",
    ),
    path(
        "<uuid:checkout_id>/billing-address/",
        views.checkout_billing_address,
        name="billing-address",
    ),
    path(
        "<uuid:checkout_id>/shipping-method/",
        views.checkout_shipping_method,
        name="shipping-method",
    ),
    path("<uuid:checkout_id>/payment/", views.checkout_payment, name="payment"),
    path(
        "<uuid:checkout_id>/store-credit/",
        credit_views.checkout_store_credit,
        name="store-credit",
    ),
    path(
        "<uuid:checkout_id>/gift-card/",
        credit_views.checkout_gift_card,
        name="gift-card",
    ),
    path("change-cart/", views.checkout_change_cart, name="change-cart"),
    path("<uuid:checkout_id>/complete/", views.checkout_complete, name="complete"),
    path("orders/", order_views.order_list, name="order-list"),
    path("orders/<str:number>/", order_views.order_detail, name="order-detail"),
    path(
        "orders/<str:number>/reorder/",
        order_views.order_reorder_view,
        name="order-reorder",
    ),
    path(
        "orders/<str:number>/invoice.pdf",
        order_views.order_invoice,
        name="order-invoice",
    ),
    path("order/<str:token>/", order_views.order_guest, name="order-guest"),
    path(
        "order/<str:token>/account/",
        order_views.order_guest_account,
        name="order-guest-account",
    ),
]
