from django.urls import path

from apps.checkout.api import views

urlpatterns = [
    path("checkouts/", views.CheckoutCreateApi.as_view(), name="api-checkout-create"),
    path(
        "checkouts/<uuid:checkout_id>/",
        views.CheckoutDetailApi.as_view(),
        name="api-checkout-detail",
    ),
    path(
        "checkouts/<uuid:checkout_id>/shipping-methods/",
        views.CheckoutShippingMethodsApi.as_view(),
        name="api-checkout-shipping-methods",
    ),
    path(
        "checkouts/<uuid:checkout_id>/payment/",
        views.CheckoutPaymentCreateApi.as_view(),
        name="api-checkout-payment",
    ),
    path(
        "checkouts/<uuid:checkout_id>/store-credit/",
        views.CheckoutStoreCreditApi.as_view(),
        name="api-checkout-store-credit",
    ),
    path(
        "checkouts/<uuid:checkout_id>/gift-card/",
        views.CheckoutGiftCardApi.as_view(),
        name="api-checkout-gift-card",
    ),
    path(
        "checkouts/<uuid:checkout_id>/change-cart/",
        views.CheckoutChangeCartApi.as_view(),
        name="api-checkout-change-cart",
    ),
    path(
        "checkouts/<uuid:checkout_id>/complete/",
        views.CheckoutCompleteApi.as_view(),
        name="api-checkout-complete",
    ),
    path(
        "checkouts/<uuid:checkout_id>/order/",
        views.CheckoutOrderApi.as_view(),
        name="api-checkout-order",
    ),
    path("orders/", views.OrderListApi.as_view(), name="api-order-list"),
    path(
        "orders/<str:number>/", views.OrderDetailApi.as_view(), name="api-order-detail"
    ),
]
