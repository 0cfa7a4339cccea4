from django.urls import path

from apps.subscriptions import (
    card_views,
    change_views,
    guest_views,
    licence_views,
    views,
)

app_name = "subscriptions"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("subscribe/<int:price_id>/", views.subscribe, name="subscribe"),
    path("subscriptions/<int:subscription_id>/pay/", views.pay, name="pay"),
    path(
        "subscriptions/<int:subscription_id>/return/",
        views.confirmation_return,
        name="return",
    ),
    path("subscriptions/<int:subscription_id>/", views.done, name="done"),
    path("subscriptions/<int:subscription_id>/cancel/", views.cancel, name="cancel"),
    path("subscriptions/<int:subscription_id>/resume/", views.resume, name="resume"),
    path(
        "subscriptions/<int:subscription_id>/card/",
        card_views.card_setup,
        name="card-setup",
    ),
    path(
        "subscriptions/<int:subscription_id>/card/<str:setup_intent_id>/",
        card_views.card,
        name="card",
    ),
    path(
        "subscriptions/<int:subscription_id>/card/<str:setup_intent_id>/return/",
        card_views.card_return,
        name="card-return",
    ),
    path(
        "subscriptions/<int:subscription_id>/change/",
        change_views.change_plan,
        name="change",
    ),
    path("account/subscription/", views.account, name="account"),
    path("account/billing-portal/", views.billing_portal, name="billing-portal"),
    path("account/invoices/", views.invoice_list, name="invoice-list"),
    path(
        "account/invoices/<int:invoice_id>/",
        views.invoice_detail,
        name="invoice-detail",
    ),
    path(
        "account/licences/<int:licence_id>/rotate/",
        licence_views.rotate,
        name="licence-rotate",
    ),
    path(
        "account/licences/<int:licence_id>/devices/<int:device_id>/release/",
        licence_views.device_release,
        name="licence-device-release",
    ),
    path("subscribe/guest/<int:price_id>/", guest_views.start, name="guest-start"),
    path("subscribe/guest/flow/<uuid:token>/", guest_views.status, name="guest-flow"),
    path(
        "subscribe/guest/flow/<uuid:token>/return/",
        guest_views.confirmation_return,
        name="guest-return",
    ),
    path(
        "subscribe/guest/sign-in/<uidb64>/<token>/",
        guest_views.magic_sign_in,
        name="guest-sign-in",
    ),
]
