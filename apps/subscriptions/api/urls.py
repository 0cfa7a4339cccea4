from django.urls import path

from apps.subscriptions.api import (
    entitlements,
    guest,
    invoices,
    licences,
    payment_method,
    subscriptions,
    views,
)

urlpatterns = [
    path("plans/", views.PlanListApi.as_view(), name="plans-list"),
    path("plans/compare/", views.PlanCompareApi.as_view(), name="plans-compare"),
    path("plans/<slug:slug>/", views.PlanDetailApi.as_view(), name="plans-detail"),
    path(
        "subscriptions/",
        subscriptions.SubscriptionCollectionApi.as_view(),
        name="subscriptions-list",
    ),
    path(
        "subscriptions/<int:subscription_id>/",
        subscriptions.SubscriptionDetailApi.as_view(),
        name="subscriptions-detail",
    ),
    path(
        "subscriptions/<int:subscription_id>/cancel/",
        subscriptions.SubscriptionCancelApi.as_view(),
        name="subscriptions-cancel",
    ),
    path(
        "subscriptions/<int:subscription_id>/resume/",
        subscriptions.SubscriptionResumeApi.as_view(),
        name="subscriptions-resume",
    ),
    path(
        "subscriptions/<int:subscription_id>/change-preview/",
        subscriptions.SubscriptionChangePreviewApi.as_view(),
        name="subscriptions-change-preview",
    ),
    path(
        "subscriptions/<int:subscription_id>/change/",
        subscriptions.SubscriptionChangeApi.as_view(),
        name="subscriptions-change",
    ),
    path(
        "subscriptions/<int:subscription_id>/payment-method/",
        payment_method.SubscriptionPaymentMethodSetupApi.as_view(),
        name="subscriptions-payment-method",
    ),
    path(
        "subscriptions/<int:subscription_id>/payment-method/confirm/",
        payment_method.SubscriptionPaymentMethodConfirmApi.as_view(),
        name="subscriptions-payment-method-confirm",
    ),
    path("invoices/", invoices.InvoiceListApi.as_view(), name="invoices-list"),
    path(
        "invoices/<int:invoice_id>/",
        invoices.InvoiceDetailApi.as_view(),
        name="invoices-detail",
    ),
    path("licences/", licences.LicenceListApi.as_view(), name="licences-list"),
    path(
        "licences/verify",
        licences.LicenceVerifyApi.as_view(),
        name="licences-verify",
    ),
    path(
        "licences/<int:licence_id>/rotate/",
        licences.LicenceRotateApi.as_view(),
        name="licences-rotate",
    ),
    path(
        "licences/<int:licence_id>/devices/<int:device_id>/release/",
        licences.LicenceDeviceReleaseApi.as_view(),
        name="licences-device-release",
    ),
    path("subscribe/guest/", guest.GuestSubscribeApi.as_view(), name="subscribe-guest"),
    path(
        "subscribe/guest/<uuid:token>/",
        guest.GuestFlowDetailApi.as_view(),
        name="subscribe-guest-detail",
    ),
    path(
        "subscribe/guest/<uuid:token>/confirm/",
        guest.GuestFlowConfirmApi.as_view(),
        name="subscribe-guest-confirm",
    ),
]

# Entitlements (issue 14); usage has its own module (usage_urls).
urlpatterns += [
    path(
        "me/entitlements/",
        entitlements.EntitlementsApi.as_view(),
        name="me-entitlements",
    ),
]
