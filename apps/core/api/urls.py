from django.urls import include, path

# Each app contributes its own routes under /api/v1/.
urlpatterns = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.inventory.api.urls")),
    path("", include("apps.carts.api.urls")),
    path("", include("apps.coupons.api.urls")),
    path("", include("apps.wallets.api.urls")),
    path("", include("apps.billing.api.urls")),
    path("", include("apps.checkout.api.urls")),
    path("", include("apps.subscriptions.api.urls")),
    path("", include("apps.analytics.api.urls")),
]
