"""Checkout (the steps from cart to payment) and orders, with their machines."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.checkout.models.pricing import ShippingMethod
from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine


class CheckoutState(models.TextChoices):
    CART_REVIEW = "cart_review"
    IDENTIFICATION = "identification"
    SHIPPING_ADDRESS = "shipping_address"
    BILLING_ADDRESS = "billing_address"
    SHIPPING_METHOD = "shipping_method"
    PAYMENT = "payment"
    REVIEW = "review"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PAYMENT_FAILED = "payment_failed"


class Checkout(TimeStampedModel):
    """The persisted path from one cart to one paid order.

    Anonymous checkouts are reached by their unguessable id only.
    """

    State = CheckoutState

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cart = models.OneToOneField(
        "carts.Cart", on_delete=models.CASCADE, related_name="checkout"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkouts",
    )
    state = models.CharField(
        max_length=24, choices=State.choices, default=State.CART_REVIEW
    )
    email = models.EmailField(blank=True)
    marketing_consent = models.BooleanField(default=False)
    shipping_address = models.JSONField(null=True, blank=True)
    billing_address = models.JSONField(null=True, blank=True)
    billing_same_as_shipping = models.BooleanField(default=True)
    shipping_method = models.ForeignKey(
        ShippingMethod,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    totals_version = models.PositiveIntegerField(default=1)
    totals_fingerprint = models.CharField(max_length=64, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    credit_requested_minor = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Store credit the shopper chose to spend; empty means all "
        "that is available (signed-in shoppers only).",
    )
    gift_recipient_email = models.EmailField(
        blank=True, help_text="Who gets the gift cards' codes; empty: the buyer."
    )
    gift_message = models.CharField(max_length=500, blank=True)
    gift_send_on = models.DateField(
        null=True, blank=True, help_text="Day the codes are emailed; empty: at once."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=CheckoutState.values),
                name="checkout_checkout_state_valid",
            )
        ]

    def __str__(self) -> str:
        return f"checkout {self.pk} ({self.state})"

    @property
    def reservation_ref(self) -> str:
        return f"checkout:{self.pk}"


_S = Checkout.State
_STEPS = {
    _S.IDENTIFICATION,
    _S.SHIPPING_ADDRESS,
    _S.BILLING_ADDRESS,
    _S.SHIPPING_METHOD,
}
# cart_review → the steps (in any order: going back to edit one, or skipping
# the ones already done or not needed, e.g. shipping for a digital cart) →
# payment → review → processing → completed; payment_failed goes back to
# payment. Nothing changes while processing, and completed is final. A payment
# that succeeds while the shopper is back on an earlier step (the intent was
# created already) still finalises: steps and payment → processing too.
CHECKOUT_TRANSITIONS: dict[str, set[str]] = {
    _S.CART_REVIEW: {_S.IDENTIFICATION},
    **{
        step: (_STEPS - {step}) | {_S.PAYMENT, _S.CART_REVIEW, _S.PROCESSING}
        for step in _STEPS
    },
    _S.PAYMENT: _STEPS | {_S.REVIEW, _S.CART_REVIEW, _S.PROCESSING},
    _S.REVIEW: _STEPS | {_S.PROCESSING, _S.PAYMENT, _S.PAYMENT_FAILED, _S.CART_REVIEW},
    _S.PROCESSING: {_S.COMPLETED, _S.PAYMENT_FAILED, _S.REVIEW},
    _S.PAYMENT_FAILED: _STEPS | {_S.PAYMENT, _S.REVIEW, _S.PROCESSING},
    _S.COMPLETED: set(),
}
CHECKOUT_STATES = StateMachine(
    model=Checkout, field="state", transitions=CHECKOUT_TRANSITIONS, name="checkout"
)


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class Order(TimeStampedModel):
    """A placed order: prices, discounts, shipping, tax and addresses are
    snapshots taken when payment was initiated, never recomputed."""

    Status = OrderStatus

    number = models.CharField(max_length=16, unique=True)
    checkout = models.OneToOneField(
        Checkout,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order",
    )
    cart_id = models.UUIDField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField()
    marketing_consent = models.BooleanField(default=False)
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.PENDING_PAYMENT
    )
    currency = models.CharField(max_length=3)
    subtotal_minor = models.PositiveBigIntegerField(default=0)
    discount_minor = models.PositiveBigIntegerField(default=0)
    shipping_minor = models.PositiveBigIntegerField(default=0)
    shipping_discount_minor = models.PositiveBigIntegerField(default=0)
    tax_minor = models.PositiveBigIntegerField(default=0)
    total_minor = models.PositiveBigIntegerField(default=0)
    refunded_minor = models.PositiveBigIntegerField(default=0)
    credit_minor = models.PositiveBigIntegerField(
        default=0, help_text="The part of the total paid with store credit."
    )
    credit_refunded_minor = models.PositiveBigIntegerField(
        default=0,
        help_text="The part of refunded_minor taken from the store-credit part "
        "(it went back to the wallet).",
    )
    credit_hold_ref = models.CharField(
        max_length=64, blank=True, help_text="The wallet hold's ledger reference."
    )
    prices_include_tax = models.BooleanField(default=False)
    taxes = models.JSONField(default=list, blank=True)
    coupons = models.JSONField(
        default=list, blank=True, help_text="[{code, discount_minor}] applied."
    )
    shipping_address = models.JSONField(null=True, blank=True)
    billing_address = models.JSONField(null=True, blank=True)
    shipping_method_name = models.CharField(max_length=120, blank=True)
    requires_shipping = models.BooleanField(default=True)
    carrier = models.CharField(max_length=64, blank=True)
    tracking_number = models.CharField(max_length=128, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["email", "status"]),
            # Analytics reads a day's paid orders (GMV, units) by paid_at.
            models.Index(fields=["paid_at"], name="checkout_order_paid_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values),
                name="checkout_order_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(refunded_minor__lte=models.F("total_minor")),
                name="checkout_order_refund_lte_total",
            ),
            models.CheckConstraint(
                condition=Q(credit_minor__lte=models.F("total_minor")),
                name="checkout_order_credit_lte_total",
            ),
            models.CheckConstraint(
                condition=Q(credit_refunded_minor__lte=models.F("refunded_minor")),
                name="checkout_order_credit_refund_lte_refunded",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.number} ({self.status})"

    @property
    def card_minor(self) -> int:
        """The part of the total paid by card."""
        return self.total_minor - self.credit_minor


_O = Order.Status
ORDER_TRANSITIONS: dict[str, set[str]] = {
    _O.PENDING_PAYMENT: {_O.PAID, _O.CANCELLED},
    _O.PAID: {_O.FULFILLED, _O.REFUNDED, _O.PARTIALLY_REFUNDED},
    _O.PARTIALLY_REFUNDED: {_O.REFUNDED, _O.FULFILLED, _O.PARTIALLY_REFUNDED},
    _O.FULFILLED: {_O.REFUNDED, _O.PARTIALLY_REFUNDED},
    _O.CANCELLED: set(),
    _O.REFUNDED: set(),
}
ORDER_STATES = StateMachine(
    model=Order,
    field="status",
    transitions=ORDER_TRANSITIONS,
    name="order",
    stamps={
        _O.PAID: "paid_at",
        _O.FULFILLED: "fulfilled_at",
        _O.CANCELLED: "cancelled_at",
    },
)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(
        "inventory.Variant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sku = models.CharField(max_length=64)
    title = models.CharField(max_length=255)
    quantity = models.PositiveIntegerField()
    unit_price_minor = models.PositiveBigIntegerField()
    subtotal_minor = models.PositiveBigIntegerField()
    discount_minor = models.PositiveBigIntegerField(default=0)
    tax_minor = models.PositiveBigIntegerField(default=0)
    total_minor = models.PositiveBigIntegerField()
    weight_grams = models.PositiveIntegerField(default=0)
    backordered_quantity = models.PositiveIntegerField(default=0)
    refunded_quantity = models.PositiveIntegerField(default=0)
    refunded_minor = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="checkout_orderline_quantity_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")),
                name="checkout_orderline_refund_qty_lte_qty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def is_backordered(self) -> bool:
        return self.backordered_quantity > 0


class OrderEvent(models.Model):
    """Append-only history of an order: every transition and staff action."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, default="status")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    source = models.CharField(
        max_length=32, blank=True, help_text="webhook, return_page, api, admin…"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.kind} {self.from_status}→{self.to_status}"


class OrderNote(models.Model):
    """An internal note staff leave on an order; never shown to the shopper."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"note on {self.order_id} by {self.author_id}"


class Fulfilment(models.Model):
    """One parcel handed to a carrier: some units of some lines of an order."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="fulfilments"
    )
    carrier = models.CharField(max_length=64, blank=True)
    tracking_number = models.CharField(max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"shipment {self.pk} of order {self.order_id}"


class FulfilmentLine(models.Model):
    fulfilment = models.ForeignKey(
        Fulfilment, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="fulfilment_lines"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="checkout_fulfilmentline_qty_gte_1"
            ),
            models.UniqueConstraint(
                fields=["fulfilment", "order_line"],
                name="checkout_fulfilmentline_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"
