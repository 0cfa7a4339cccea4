from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views
from apps.inventory import views as inventory_views

urlpatterns = [
    # The shop opens on its catalogue.
    path("", inventory_views.product_list, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("apps.accounts.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("", include("apps.inventory.urls")),
    path("cart/", include("apps.carts.urls")),
    path("coupons/", include("apps.coupons.urls")),
    path("checkout/", include("apps.checkout.urls")),
    path("billing/", include("apps.billing.urls")),
    path("", include("apps.subscriptions.urls")),
    path("api/v1/", include("apps.core.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema"),
        name="api-docs",
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
