import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine


class Cart(TimeStampedModel):
    """A shopper's basket. Anonymous carts are reached by their unguessable id."""

    class Status(models.TextChoices):
        OPEN = "open"
        CHECKED_OUT = "checked_out"
        ABANDONED = "abandoned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="carts",
    )
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN
    )
    version = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set while a payment is started for this cart: it cannot change "
        "until the shopper asks to change it (the payment is then cancelled).",
    )

    class Meta:
        indexes = [models.Index(fields=["status", "updated_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "checked_out", "abandoned"]),
                name="carts_cart_status_valid",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status="open", user__isnull=False),
                name="carts_cart_one_open_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"cart {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


# Allowed moves; checkout performs open → checked_out. Every move bumps the
# version so an API client holding the old one gets a version conflict.
CART_TRANSITIONS: dict[str, set[str]] = {
    Cart.Status.OPEN: {Cart.Status.CHECKED_OUT, Cart.Status.ABANDONED},
    Cart.Status.ABANDONED: {Cart.Status.OPEN},
}

CART_STATES = StateMachine(
    model=Cart,
    field="status",
    transitions=CART_TRANSITIONS,
    name="cart",
    bump=("version",),
)


class CartLine(TimeStampedModel):
    """One variant in a cart; the unit price is a snapshot taken when added."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(
        "inventory.Variant", on_delete=models.CASCADE, related_name="+"
    )
    quantity = models.PositiveIntegerField()
    unit_price_minor = models.PositiveBigIntegerField(
        help_text="Catalogue price when the line was added or last changed."
    )

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "variant"], name="carts_line_one_per_variant"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="carts_line_quantity_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant_id}"


class CartCoupon(models.Model):
    """A coupon the shopper applied; it is re-checked every time the cart is priced."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="coupons")
    coupon = models.ForeignKey(
        "coupons.Coupon", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "coupon"], name="carts_coupon_once_per_cart"
            )
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} on {self.cart_id}"
