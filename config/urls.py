from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.flatpages import views as flatpage_views
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from apps.billing.views import StripeWebhookView
from apps.core import views as core_views
from apps.core.metrics_view import metrics as metrics_view
from apps.inventory import views as inventory_views

urlpatterns = [
    # First: the API takes the most requests (usage ingest, issue 14), and
    # each pattern tried before it costs every one of them. Nothing above it
    # before this move could match a path under api/v1/.
    path("api/v1/", include("apps.core.api.urls")),
    path("", inventory_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("apps.accounts.urls")),
    path("", include("apps.wallets.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("", include("apps.inventory.urls")),
    path("cart/", include("apps.carts.urls")),
    path("coupons/", include("apps.coupons.urls")),
    path("checkout/", include("apps.checkout.urls")),
    # The captured url keeps its "pages/" prefix, so a flat page's URL in
    # admin is the address it is served at (/pages/about/).
    re_path(r"^(?P<url>pages/.+)$", flatpage_views.flatpage, name="flatpage"),
    path("billing/", include("apps.billing.urls")),
    path("", include("apps.subscriptions.urls")),
    path("dunning/", include("apps.dunning.urls")),
    path("staff/analytics/", include("apps.analytics.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from this same URL
    # (?script=) instead of inline: the CSP allows scripts from 'self' only.
    # Assets come from drf-spectacular-sidecar's static files.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    # ReDoc runs its search index in a blob: web worker. Its sidebar logo
    # (Redocly's CDN) stays blocked: the CSP allows no CDN.
    path(
        "api/redoc/",
        csp_update({"worker-src": ["'self'", "blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema")
        ),
        name="api-redoc",
    ),
    # Ahead of dj-stripe's own route for the same URL (which keeps its name
    # for reverse()): the shop's view refuses dj-stripe's debug secret header.
    path(
        "stripe/webhook/<uuid:uuid>/",
        StripeWebhookView.as_view(),
        name="stripe-webhook",
    ),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
