"""The shop's admin site: an index grouped the way staff run the shop, and a
dashboard on its home page.

Installed through ``apps.core.apps.ShopAdminConfig`` (``default_site``), so every
``@admin.register`` in the project lands here unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

DashboardPanel = Callable[[HttpRequest], dict[str, Any]]

# Filled by the apps that own the numbers (checkout registers the sales and
# fulfilment panel): core sits below them and must not import them.
_dashboard_panels: list[DashboardPanel] = []


CustomerPanel = Callable[[HttpRequest, Any], dict[str, Any]]
_customer_panels: list[CustomerPanel] = []


def customer_panel(panel: CustomerPanel) -> CustomerPanel:
    """Register ``panel(request, user)``: its context joins the customer page's.

    Accounts owns the user page but sits below the apps that know a
    customer's orders, credit and subscriptions; they register here.
    """
    if panel not in _customer_panels:
        _customer_panels.append(panel)
    return panel


def customer_context(request: HttpRequest, user: Any) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for panel in _customer_panels:
        context.update(panel(request, user))
    return context


def dashboard_panel(panel: DashboardPanel) -> DashboardPanel:
    """Register ``panel``: its context is merged into the admin home page's."""
    if panel not in _dashboard_panels:
        _dashboard_panels.append(panel)
    return panel


# Sections of the index, in order, each listing (app_label, model_name) in the
# order staff look for them. A model not listed falls into "Settings", so a new
# admin never silently disappears from the index.
SECTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Orders",
        "orders",
        (
            ("checkout", "order"),
            ("checkout", "checkout"),
            ("carts", "cart"),
            ("checkout", "failedworkflow"),
        ),
    ),
    (
        "Catalogue",
        "catalogue",
        (
            ("inventory", "product"),
            ("inventory", "variant"),
            ("inventory", "producttype"),
            ("inventory", "category"),
            ("inventory", "stockitem"),
            ("inventory", "stockmovement"),
            ("inventory", "reservation"),
            ("inventory", "backinstocksubscription"),
        ),
    ),
    (
        "Customers",
        "customers",
        (
            ("accounts", "user"),
            ("accounts", "address"),
            ("account", "emailaddress"),
            ("wallets", "wallet"),
            ("auth", "group"),
        ),
    ),
    (
        "Marketing",
        "marketing",
        (
            ("coupons", "coupon"),
            ("coupons", "couponredemption"),
            ("wallets", "giftcard"),
        ),
    ),
    (
        "Billing",
        "billing",
        (
            ("billing", "payment"),
            ("wallets", "ledgerentry"),
            ("subscriptions", "plan"),
            ("subscriptions", "feature"),
            ("subscriptions", "subscription"),
            ("subscriptions", "licencekey"),
            ("subscriptions", "subscribeflow"),
            ("dunning", "dunningcase"),
            ("dunning", "dunningaction"),
            ("dunning", "dunningpolicy"),
            ("subscriptions", "usageevent"),
            ("subscriptions", "meteredprice"),
            ("subscriptions", "usageoveragecharge"),
        ),
    ),
    (
        "Settings",
        "settings",
        (
            ("checkout", "shippingzone"),
            ("checkout", "shippingmethod"),
            ("checkout", "taxrate"),
            ("checkout", "taxsettings"),
            ("coupons", "stackingsettings"),
            ("core", "auditlog"),
            ("core", "notification"),
            ("core", "outboxevent"),
        ),
    ),
)
FALLBACK_SECTION = "settings"

# dj-stripe mirrors Stripe's objects; Stripe is the truth and billing keeps the
# shop's own records, so these tables are for a superuser's inspection only.
MIRROR_APP_LABELS = frozenset({"djstripe"})


class ReadOnlyMirrorAdmin(admin.ModelAdmin):
    """Make a mirror table visible to superusers only, and never editable."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # dj-stripe's "sync from Stripe" actions write to the mirror.
        return {}


class ShopAdminSite(admin.AdminSite):
    site_header = "Shop back office"
    site_title = "Shop admin"
    index_title = "Dashboard"
    index_template = "admin/shop_index.html"

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any):
        models: list[Any] = (
            [model_or_iterable]
            if isinstance(model_or_iterable, type)
            else list(model_or_iterable)
        )
        for model in models:
            cls = admin_class or admin.ModelAdmin
            if model._meta.app_label in MIRROR_APP_LABELS:
                cls = type(f"ReadOnly{cls.__name__}", (ReadOnlyMirrorAdmin, cls), {})
            super().register(model, cls, **options)

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Group the index into shop sections; an app's own page stays as is."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        return shop_sections(self._build_app_dict(request))

    def index(self, request: HttpRequest, extra_context: dict | None = None):
        context: dict[str, Any] = {}
        for panel in _dashboard_panels:
            context.update(panel(request))
        context.update(extra_context or {})
        return super().index(request, extra_context=context)


class ShopAdminConfig(AdminConfig):
    """django.contrib.admin with ShopAdminSite as ``admin.site``."""

    default_site = "apps.core.admin_site.ShopAdminSite"


def shop_sections(app_dict: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Regroup Django's per-app dict into SECTIONS, dropping mirror apps."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for label, app in app_dict.items():
        if label in MIRROR_APP_LABELS:
            continue
        for model in app["models"]:
            by_key[(label, model["object_name"].lower())] = model
    placed: set[tuple[str, str]] = set()
    sections: list[dict[str, Any]] = []
    for name, slug, keys in SECTIONS:
        models = [by_key[key] for key in keys if key in by_key]
        placed.update(key for key in keys if key in by_key)
        sections.append(_section(name, slug, models))
    leftovers = [m for key, m in sorted(by_key.items()) if key not in placed]
    for section in sections:
        if section["app_label"] == FALLBACK_SECTION:
            section["models"].extend(leftovers)
    return [section for section in sections if section["models"]]


def _section(name: str, slug: str, models: list[dict[str, Any]]) -> dict[str, Any]:
    first_url = models[0]["admin_url"] if models else ""
    return {
        "name": name,
        "app_label": slug,
        # The section caption links to its first table: sections are not apps,
        # so there is no app index page to send it to.
        "app_url": first_url,
        "has_module_perms": True,
        "models": models,
    }
