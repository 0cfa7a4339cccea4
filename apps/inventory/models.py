"""Catalogue (categories, products, variants) and stock (items, holds, ledger)."""

from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from apps.core.models import TimeStampedModel
from apps.core.state import StateMachine

CATEGORY_MAX_DEPTH = 3
DEFAULT_LOCATION = "main"


class Category(TimeStampedModel):
    """A node in a shallow category tree (at most CATEGORY_MAX_DEPTH levels)."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=F("pk")), name="inventory_category_not_own_parent"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        depth = 1
        node = self.parent
        seen = {self.pk} if self.pk else set()
        while node is not None:
            if node.pk in seen:
                raise ValidationError({"parent": "A category cannot contain itself."})
            seen.add(node.pk)
            depth += 1
            node = node.parent
        if depth > CATEGORY_MAX_DEPTH:
            raise ValidationError(
                {"parent": f"Categories nest at most {CATEGORY_MAX_DEPTH} levels deep."}
            )


class ProductType(TimeStampedModel):
    """A kind of product (T-shirt, mug) and the options its variants vary by."""

    name = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductOption(models.Model):
    """One option of a product type (size, colour) and its values, in order.

    ``name`` is the key in each variant's ``option_values`` and in the
    storefront's filters (``?size=M``), so it is stored lower-case.
    """

    product_type = models.ForeignKey(
        ProductType, on_delete=models.CASCADE, related_name="options"
    )
    name = models.CharField(
        max_length=40, help_text="Lower-case key, e.g. size or colour."
    )
    values = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product_type", "name"],
                name="inventory_productoption_unique_name_per_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {', '.join(str(v) for v in self.values or [])}"


class Product(TimeStampedModel):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products"
    )
    product_type = models.ForeignKey(
        ProductType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
        help_text="Decides the options its variants are made of.",
    )
    is_active = models.BooleanField(default=True, db_index=True)
    is_featured = models.BooleanField(
        default=False, help_text="Shown on the home page."
    )

    class Meta:
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title


class ProductImage(models.Model):
    """A picture of a product (optionally of one variant); the first by position
    is the main one.

    ``renditions`` lists the resized copies made once at upload
    (``[{"width", "height", "name"}]``, narrowest first): pages only ever serve
    those, never the original.
    """

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="images"
    )
    variant = models.ForeignKey(
        "Variant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="images",
        help_text="Leave empty for a picture of the whole product.",
    )
    image = models.FileField(upload_to="products/")
    alt_text = models.CharField(
        max_length=200,
        blank=True,
        help_text="What the picture shows, for screen readers and when it fails "
        "to load.",
    )
    position = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    renditions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        # The file is required, so a stored image always has a name.
        return self.alt_text or cast(str, self.image.name)


class Variant(TimeStampedModel):
    """A sellable SKU: one combination of option values with its own price and stock."""

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="variants"
    )
    sku = models.CharField("SKU", max_length=64, unique=True)
    title = models.CharField(max_length=200, blank=True)
    option_values = models.JSONField(default=dict, blank=True)
    price_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    compare_at_price_minor = models.PositiveBigIntegerField(null=True, blank=True)
    weight_grams = models.PositiveIntegerField(default=0)
    track_stock = models.BooleanField(default=True)
    is_gift_card = models.BooleanField(
        default=False,
        help_text="Paying for it issues a gift card of its price, emailed with "
        "its code; sell it with no weight and no stock tracking.",
    )
    allow_backorder = models.BooleanField(default=False)
    backorder_lead_days = models.PositiveSmallIntegerField(null=True, blank=True)
    expected_ship_date = models.DateField(null=True, blank=True)
    max_per_order = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True, db_index=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_per_order__isnull=True) | Q(max_per_order__gte=1),
                name="inventory_variant_max_per_order_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.display_title}"

    @property
    def display_title(self) -> str:
        if self.title:
            return self.title
        return " / ".join(str(v) for v in (self.option_values or {}).values())

    def clean(self) -> None:
        if self.currency:
            self.currency = self.currency.upper()
        if (
            self.compare_at_price_minor is not None
            and self.price_minor is not None
            and self.compare_at_price_minor <= self.price_minor
        ):
            raise ValidationError(
                {"compare_at_price_minor": "The compare-at price must be higher."}
            )


class StockItem(TimeStampedModel):
    """Units of one variant on hand at one location.

    One location exists today (DEFAULT_LOCATION); a warehouse is another row.
    """

    variant = models.ForeignKey(
        Variant, on_delete=models.CASCADE, related_name="stock_items"
    )
    location = models.CharField(max_length=64, default=DEFAULT_LOCATION)
    on_hand = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(on_hand__gte=0), name="inventory_stockitem_on_hand_gte_0"
            ),
            models.UniqueConstraint(
                fields=["variant", "location"],
                name="inventory_stockitem_unique_variant_location",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id}@{self.location}: {self.on_hand}"


class Reservation(TimeStampedModel):
    """Units held for a cart or checkout (``ref``) until ``expires_at``.

    ``quantity`` is the total held; ``backordered_quantity`` of it is beyond
    stock (backorder), so only ``quantity - backordered_quantity`` counts
    against on-hand stock.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        COMMITTED = "committed"
        RELEASED = "released"
        EXPIRED = "expired"

    variant = models.ForeignKey(
        Variant, on_delete=models.PROTECT, related_name="reservations"
    )
    quantity = models.PositiveIntegerField()
    backordered_quantity = models.PositiveIntegerField(default=0)
    ref = models.CharField(max_length=100, db_index=True)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["variant", "status", "expires_at"],
                name="inventory_res_avail_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1),
                name="inventory_reservation_quantity_gte_1",
            ),
            models.CheckConstraint(
                condition=Q(backordered_quantity__lte=F("quantity")),
                name="inventory_reservation_backorder_lte_quantity",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "committed", "released", "expired"]),
                name="inventory_reservation_status_valid",
            ),
            models.UniqueConstraint(
                fields=["ref", "variant"],
                condition=Q(status="active"),
                name="inventory_reservation_one_active_per_ref_variant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref}: {self.quantity} × {self.variant_id} ({self.status})"

    @property
    def stock_quantity(self) -> int:
        """Units taken from on-hand stock (the rest is backordered)."""
        return self.quantity - self.backordered_quantity


# Allowed moves; a move to the current state is a no-op, and every status
# change goes through RESERVATION_STATES (services.reservations_transition).
# COMMITTED and RELEASED are terminal. EXPIRED is not: the hold no longer
# protects its units, but it may still be committed if they are still there,
# so releasing it (stock_release, or a re-reserve replacing it) closes it for
# good instead of leaving it committable.
RESERVATION_TRANSITIONS: dict[str, set[str]] = {
    Reservation.Status.ACTIVE: {
        Reservation.Status.COMMITTED,
        Reservation.Status.RELEASED,
        Reservation.Status.EXPIRED,
    },
    Reservation.Status.EXPIRED: {
        Reservation.Status.COMMITTED,
        Reservation.Status.RELEASED,
    },
}

RESERVATION_STATES = StateMachine(
    model=Reservation,
    field="status",
    transitions=RESERVATION_TRANSITIONS,
    name="reservation",
)


class StockMovement(models.Model):
    """Ledger row: every change of on_hand, signed, with why and who."""

    class Reason(models.TextChoices):
        RECEIVE = "receive"
        SALE = "sale"
        RETURN = "return"
        ADJUSTMENT = "adjustment"
        IMPORT = "import"

    variant = models.ForeignKey(
        Variant, on_delete=models.PROTECT, related_name="stock_movements"
    )
    location = models.CharField(max_length=64, default=DEFAULT_LOCATION)
    quantity = models.IntegerField()
    on_hand_after = models.IntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reference = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(quantity=0), name="inventory_movement_quantity_nonzero"
            ),
            models.CheckConstraint(
                condition=Q(
                    reason__in=["receive", "sale", "return", "adjustment", "import"]
                ),
                name="inventory_movement_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.quantity:+d} × {self.variant_id}"


class BackInStockSubscription(models.Model):
    """Someone asked to hear when a variant is back; sent_at marks the alert sent."""

    variant = models.ForeignKey(
        Variant, on_delete=models.CASCADE, related_name="back_in_stock_subscriptions"
    )
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "email"],
                condition=Q(sent_at__isnull=True),
                name="inventory_backinstock_one_pending_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.variant_id}"
