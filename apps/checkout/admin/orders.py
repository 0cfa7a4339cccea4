"""Orders: the list staff work from, the order page, and its actions.

Status and money are read-only; every change goes through a service; an
action that moves money, ships or sends mail shows a confirmation first.
"""

from decimal import Decimal

from django.contrib import admin
from django.urls import path

from apps.billing import selectors as billing_selectors
from apps.billing.models import INTENT_STATUSES
from apps.checkout import selectors
from apps.checkout.admin.bulk import REFUNDABLE, OrderBulkActionsMixin
from apps.checkout.admin.order_views import NoteForm, OrderPageViewsMixin
from apps.checkout.models import Order, OrderEvent, OrderLine
from apps.checkout.services import fulfilment
from apps.core.admin_display import money_column, money_text


def _address(address: dict | None) -> str:
    """One line per part, as on an envelope (the admin shows each break as <br>)."""
    if not address:
        return "—"
    parts = [
        address.get("name"),
        address.get("line1"),
        address.get("line2"),
        " ".join(p for p in (address.get("city"), address.get("region")) if p),
        " ".join(p for p in (address.get("postal_code"), address.get("country")) if p),
        address.get("phone"),
    ]
    return "\n".join(p for p in parts if p)


# The tables scroll inside their fieldset on a phone; this template makes
# that fieldset focusable so the scrolling box is reachable by keyboard.
SCROLLING_TABULAR = "checkout/admin/edit_inline/tabular_scroll.html"


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    template = SCROLLING_TABULAR
    extra = 0
    can_delete = False
    fields = (
        "sku",
        "title",
        "quantity",
        "shipped",
        "unit_price",
        "discount",
        "tax",
        "total",
        "backordered_quantity",
        "refunded_quantity",
        "refunded",
    )
    readonly_fields = fields

    unit_price = money_column(
        "unit_price_minor", "unit price", currency_from="order.currency"
    )
    discount = money_column(
        "discount_minor", "discount", currency_from="order.currency"
    )
    tax = money_column("tax_minor", "tax", currency_from="order.currency")
    total = money_column("total_minor", "total", currency_from="order.currency")
    refunded = money_column(
        "refunded_minor", "refunded", currency_from="order.currency"
    )

    @admin.display(description="shipped")
    def shipped(self, line):
        return getattr(line, "units_shipped", 0)

    def get_queryset(self, request):
        return selectors.order_lines_with_shipped(super().get_queryset(request))

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    template = SCROLLING_TABULAR
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "kind",
        "from_status",
        "to_status",
        "source",
        "actor",
        "message",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False


class PaymentStatusFilter(admin.SimpleListFilter):
    """Orders by the Stripe status of any of their payments."""

    title = "payment"
    parameter_name = "payment"

    def lookups(self, request, model_admin):
        return [(status, status.replace("_", " ")) for status in INTENT_STATUSES]

    def queryset(self, request, queryset):
        status = self.value()
        if status in INTENT_STATUSES:
            return queryset.filter(
                number__in=billing_selectors.payment_references_with_status(
                    status=status
                )
            )
        return queryset


class FulfilmentFilter(admin.SimpleListFilter):
    title = "fulfilment"
    parameter_name = "fulfilment"

    def lookups(self, request, model_admin):
        return [("waiting", "waiting to ship")]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return selectors.orders_waiting_for_fulfilment(queryset)
        return queryset


_MONEY_FIELDS = (
    "subtotal",
    "discount",
    "shipping",
    "shipping_discount",
    "tax",
    "total",
    "store_credit",
    "refunded",
    "refunded_to_wallet",
)
CSV_HEADER = [
    "number",
    "created_at",
    "status",
    "customer",
    "email",
    "items",
    "fulfilment",
    "currency",
    "total",
    "refunded",
]


@admin.register(Order)
class OrderAdmin(OrderBulkActionsMixin, OrderPageViewsMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "customer",
        "email",
        "status",
        "items",
        "fulfilment",
        "total",
        "refunded",
        "created_at",
    )
    list_filter = (
        "status",
        FulfilmentFilter,
        PaymentStatusFilter,
        "created_at",
        "paid_at",
        "requires_shipping",
    )
    search_fields = ("number", "email", "user__name", "user__email")
    date_hierarchy = "created_at"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "status",
                    "email",
                    "user",
                    "marketing_consent",
                    "checkout",
                    ("created_at", "paid_at", "fulfilled_at", "cancelled_at"),
                )
            },
        ),
        (
            "Money",
            {
                "fields": (
                    "currency",
                    *_MONEY_FIELDS,
                    "prices_include_tax",
                    "tax_lines",
                    "coupon_lines",
                )
            },
        ),
        (
            "Delivery",
            {
                "fields": (
                    "requires_shipping",
                    "shipping_method_name",
                    "shipping_to",
                    "billing_to",
                    ("carrier", "tracking_number"),
                )
            },
        ),
    )
    readonly_fields = [
        *(f.name for f in Order._meta.fields),
        *_MONEY_FIELDS,
        "shipping_to",
        "billing_to",
        "tax_lines",
        "coupon_lines",
    ]
    inlines = [OrderLineInline, OrderEventInline]
    actions = ["resend_confirmation", "mark_fulfilled", "refund_in_full"]
    change_form_template = "checkout/admin/order_change_form.html"
    change_list_template = "admin/checkout/order/change_list.html"

    def get_queryset(self, request):
        return selectors.order_list_for_admin(super().get_queryset(request))

    @admin.display(description="customer", ordering="user__name")
    def customer(self, order):
        return selectors.order_customer_name(order) or "—"

    @admin.display(description="items", ordering="item_count")
    def items(self, order):
        return order.item_count

    @admin.display(description="fulfilment")
    def fulfilment(self, order):
        return selectors.order_fulfilment_state(order)

    @admin.display(description="taxes")
    def tax_lines(self, order):
        lines = [
            f"{t.get('name', '')} {Decimal(int(t.get('basis_points', 0))) / 100}%: "
            f"{money_text(t.get('amount_minor'), order.currency)}"
            for t in order.taxes or []
        ]
        return "\n".join(lines) or "—"

    @admin.display(description="coupons")
    def coupon_lines(self, order):
        lines = [
            f"{c.get('code', '')}: −"
            f"{money_text(c.get('discount_minor'), order.currency)}"
            for c in order.coupons or []
        ]
        return "\n".join(lines) or "—"

    subtotal = money_column("subtotal_minor", "subtotal")
    discount = money_column("discount_minor", "discount")
    shipping = money_column("shipping_minor", "shipping")
    shipping_discount = money_column("shipping_discount_minor", "shipping discount")
    tax = money_column("tax_minor", "tax")
    total = money_column("total_minor", "total", sort=True)
    refunded = money_column("refunded_minor", "refunded", sort=True)
    store_credit = money_column("credit_minor", "paid with store credit")
    refunded_to_wallet = money_column(
        "credit_refunded_minor", "credit part refunded to the wallet"
    )

    @admin.display(description="ship to")
    def shipping_to(self, order):
        return _address(order.shipping_address)

    @admin.display(description="bill to")
    def billing_to(self, order):
        return _address(order.billing_address)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        def view(name, func, route):
            return path(route, self.admin_site.admin_view(func), name=name)

        return [
            view("checkout_order_export_csv", self.export_csv_view, "export.csv"),
            view("checkout_order_fulfil", self.fulfil_view, "<int:order_id>/fulfil/"),
            view("checkout_order_refund", self.refund_view, "<int:order_id>/refund/"),
            view("checkout_order_note_add", self.note_view, "<int:order_id>/notes/"),
            view(
                "checkout_order_invoice",
                self.invoice_view,
                "<int:order_id>/invoice.pdf",
            ),
            view(
                "checkout_order_packing_slip",
                self.packing_slip_view,
                "<int:order_id>/packing-slip.pdf",
            ),
            *super().get_urls(),
        ]

    # --- the order page --------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = Order.objects.filter(pk=object_id).first()
        extra = self._order_page_context(order) if order else {}
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **extra}
        )

    def _order_page_context(self, order: Order) -> dict:
        left = fulfilment.order_line_quantities_unshipped(order=order)
        return {
            "payments": list(
                billing_selectors.payments_for_references(references=[order.number])
            ),
            "notes": list(selectors.order_notes(order_id=order.pk)),
            "note_form": NoteForm(),
            "fulfilments": list(selectors.order_fulfilments(order_id=order.pk)),
            "other_orders": selectors.orders_of_customer(
                email=order.email, user_id=order.user_id, exclude_id=order.pk
            ),
            "can_ship": order.status in fulfilment.SHIPPABLE_STATUSES
            and any(units > 0 for units in left.values()),
            "can_refund": order.status in REFUNDABLE
            and order.refunded_minor < order.total_minor,
            "has_documents": order.status != Order.Status.PENDING_PAYMENT,
        }
