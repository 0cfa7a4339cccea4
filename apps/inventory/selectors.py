"""Catalogue and stock reads; every query shape (joins, prefetches) is decided here."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from django.db import connection
from django.db.models import (
    Exists,
    F,
    Field,
    IntegerField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.inventory.exceptions import ProductNotFound
from apps.inventory.models import (
    Category,
    Product,
    ProductImage,
    Reservation,
    StockItem,
    Variant,
)

LOW_STOCK_THRESHOLD = 5
M = TypeVar("M", bound=Model)


class StockAnnotations(TypedDict):
    """What variants_with_availability annotates on each variant."""

    stock_on_hand: int
    stock_reserved: int


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    # A variant as variants_with_availability returns it (django-stubs-ext is a
    # dev-only package: type checking only).
    AnnotatedVariant = WithAnnotations[Variant, StockAnnotations]


@dataclass(frozen=True, slots=True)
class Availability:
    variant_id: int
    on_hand: int
    available: int
    track_stock: bool
    allow_backorder: bool
    backorder: bool
    purchasable: bool
    expected_ship_date: datetime.date | None

    @property
    def in_stock(self) -> bool:
        return self.purchasable and not self.backorder

    @property
    def low_stock(self) -> bool:
        return self.track_stock and 0 < self.available <= LOW_STOCK_THRESHOLD

    @property
    def status(self) -> str:
        """One of in_stock, low_stock, backorder, out_of_stock, unavailable."""
        if not self.purchasable:
            return "unavailable" if not self.track_stock else "out_of_stock"
        if self.backorder:
            return "backorder"
        if self.low_stock:
            return "low_stock"
        return "in_stock"


def _on_hand_subquery(outer: str = "pk") -> Subquery:
    return Subquery(
        StockItem.objects.filter(variant=OuterRef(outer))
        .order_by()
        .values("variant")
        .annotate(total=Sum("on_hand"))
        .values("total")[:1],
        output_field=IntegerField(),
    )


def _reserved_subquery(now: datetime.datetime, outer: str = "pk") -> Subquery:
    """Units held from stock by active, unexpired reservations (backorders excluded)."""
    from django.db.models import F

    return Subquery(
        Reservation.objects.filter(
            variant=OuterRef(outer),
            status=Reservation.Status.ACTIVE,
            expires_at__gt=now,
        )
        .order_by()
        .values("variant")
        .annotate(total=Sum(F("quantity") - F("backordered_quantity")))
        .values("total")[:1],
        output_field=IntegerField(),
    )


def variants_with_availability(
    queryset: QuerySet[Variant],
) -> QuerySet[AnnotatedVariant]:
    """Annotate ``stock_on_hand`` and ``stock_reserved`` (no extra query)."""
    now = timezone.now()
    return queryset.annotate(
        stock_on_hand=Coalesce(_on_hand_subquery(), Value(0)),
        stock_reserved=Coalesce(_reserved_subquery(now), Value(0)),
    )


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _quoted(model: type[Model], field: str) -> str:
    found = model._meta.get_field(field)
    if not isinstance(found, Field) or not found.column:
        raise TypeError(f"{model.__name__}.{field} is not a column")
    return f"{_table(model)}.{connection.ops.quote_name(found.column)}"


@functools.cache
def _stock_counts_sql() -> tuple[str, str]:
    """The two subqueries of ``variants_with_availability`` as SQL, with
    ``{outer}`` for the variant column they are correlated with.

    Identifiers come from the models' metadata and values go as parameters
    (hence the noqa: nothing here comes from a request)."""
    on_hand = (
        f"SELECT COALESCE(SUM({_quoted(StockItem, 'on_hand')}), 0)"  # noqa: S608
        f" FROM {_table(StockItem)}"
        f" WHERE {_quoted(StockItem, 'variant')} = {{outer}}"
    )
    reserved = (
        f"SELECT COALESCE(SUM({_quoted(Reservation, 'quantity')}"  # noqa: S608
        f" - {_quoted(Reservation, 'backordered_quantity')}), 0)"
        f" FROM {_table(Reservation)}"
        f" WHERE {_quoted(Reservation, 'variant')} = {{outer}}"
        f" AND {_quoted(Reservation, 'status')} = %s"
        f" AND {_quoted(Reservation, 'expires_at')} > %s"
    )
    return on_hand, reserved


def with_variant_availability(
    queryset: QuerySet[M], *, variant_field: str
) -> QuerySet[Any]:
    """Annotate rows pointing at a variant (``variant_field``, a foreign key of
    the queryset's own model such as a cart line's ``variant``, or ``id`` for
    variants themselves) with its ``stock_on_hand`` and ``stock_reserved``,
    for ``availability_from_counts``: the rows and their variants'
    availability in one query.

    The same counts as ``variants_with_availability``, written as SQL once per
    process: resolving and compiling the two correlated Subquery expressions
    cost more CPU than the rest of the query (checkout prices the cart on
    every request, through here). The outer column is named by its table, so
    the queryset must select from that table itself, not be nested in another
    query.
    """
    outer = _quoted(queryset.model, variant_field)
    on_hand, reserved = _stock_counts_sql()
    now = timezone.now()
    return queryset.annotate(
        stock_on_hand=RawSQL(  # noqa: S611
            on_hand.format(outer=outer), (), output_field=IntegerField()
        ),
        stock_reserved=RawSQL(  # noqa: S611
            reserved.format(outer=outer),
            # As the ORM would send it (SQLite compares stored text).
            (
                Reservation.Status.ACTIVE.value,
                connection.ops.adapt_datetimefield_value(now),
            ),
            output_field=IntegerField(),
        ),
    )


def availability_from_variant(
    variant: AnnotatedVariant, *, today: datetime.date | None = None
) -> Availability:
    """Build Availability from a variant annotated by variants_with_availability.

    The product must be loaded (select_related) to know whether it is active.
    """
    return availability_from_counts(
        variant,
        on_hand=variant.stock_on_hand,
        reserved=variant.stock_reserved,
        today=today,
    )


def availability_from_counts(
    variant: Variant,
    *,
    on_hand: int | None,
    reserved: int | None,
    today: datetime.date | None = None,
) -> Availability:
    """Build Availability from a variant (product loaded) and its stock counts
    (as ``variants_with_availability`` or ``with_variant_availability`` read
    them)."""
    on_hand = int(on_hand or 0)
    available = max(0, on_hand - int(reserved or 0))
    active = variant.is_active and variant.product.is_active
    if not variant.track_stock:
        return Availability(
            variant_id=variant.pk,
            on_hand=on_hand,
            available=available,
            track_stock=False,
            allow_backorder=variant.allow_backorder,
            backorder=False,
            purchasable=active,
            expected_ship_date=None,
        )
    backorder = available == 0 and variant.allow_backorder
    return Availability(
        variant_id=variant.pk,
        on_hand=on_hand,
        available=available,
        track_stock=True,
        allow_backorder=variant.allow_backorder,
        backorder=backorder,
        purchasable=active and (available > 0 or variant.allow_backorder),
        expected_ship_date=(
            backorder_ship_date(variant, today=today)
            if variant.allow_backorder
            else None
        ),
    )


def backorder_ship_date(
    variant: Variant, *, today: datetime.date | None = None
) -> datetime.date | None:
    """Return when backordered units are expected to ship, if known."""
    if variant.expected_ship_date:
        return variant.expected_ship_date
    if variant.backorder_lead_days is not None:
        today = today or timezone.localdate()
        return today + datetime.timedelta(days=variant.backorder_lead_days)
    return None


def variant_availability_map(*, variant_ids: Iterable[int]) -> dict[int, Availability]:
    """Return availability per variant id, in one query. Unknown ids are left out."""
    ids = list(variant_ids)
    if not ids:
        return {}
    variants = variants_with_availability(
        Variant.objects.filter(pk__in=ids).select_related("product")
    )
    today = timezone.localdate()
    return {v.pk: availability_from_variant(v, today=today) for v in variants}


def variant_get_by_sku(*, sku: str) -> Variant | None:
    """Return the variant with this SKU (product loaded), or None."""
    return Variant.objects.select_related("product").filter(sku=sku).first()


def variants_for_ids(*, ids: Iterable[int]) -> dict[int, Variant]:
    """Return variants keyed by id, product loaded, in one query."""
    return {
        v.pk: v for v in Variant.objects.select_related("product").filter(pk__in=ids)
    }


# --- catalogue ---------------------------------------------------------------


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent").order_by(
        "parent__position", "position", "name"
    )


def category_get(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug).first()


def _storefront_variants() -> Prefetch:
    return Prefetch(
        "variants",
        queryset=variants_with_availability(
            Variant.objects.filter(is_active=True)
        ).order_by("position", "pk"),
        to_attr="active_variants",
    )


def product_list(
    *, q: str | None = None, category_slug: str | None = None
) -> QuerySet[Product]:
    """Active products, optionally filtered by category (and its subcategories)
    and by a search on title or SKU.

    Each product has ``active_variants`` (availability annotated): two queries
    however many products or variants a page holds.
    """
    qs = Product.objects.filter(is_active=True).select_related(
        "category", "category__parent"
    )
    if category_slug:
        qs = qs.filter(
            Q(category__slug=category_slug)
            | Q(category__parent__slug=category_slug)
            | Q(category__parent__parent__slug=category_slug)
        )
    if q:
        q = q.strip()
        sku_match = Variant.objects.filter(
            product=OuterRef("pk"), is_active=True, sku__icontains=q
        )
        qs = qs.filter(Q(title__icontains=q) | Exists(sku_match))
    return qs.prefetch_related(_storefront_variants()).order_by("title", "pk")


def product_get(*, slug: str) -> Product:
    """Return an active product with its active variants and images.

    Raise ProductNotFound when no active product has this slug.
    """
    product = (
        Product.objects.filter(is_active=True, slug=slug)
        .select_related("category", "category__parent")
        .prefetch_related(_storefront_variants(), "images")
        .first()
    )
    if product is None:
        raise ProductNotFound("No such product.")
    return product


def product_active_variants(product: Product) -> list[AnnotatedVariant]:
    """The active variants prefetched (availability annotated) by product_list
    and product_get."""
    return product.active_variants  # type: ignore[attr-defined]  # set by Prefetch(to_attr=...)


def product_variant_availability(
    product: Product,
) -> list[tuple[Variant, Availability]]:
    """Pair each prefetched active variant of a product with its availability."""
    today = timezone.localdate()
    pairs: list[tuple[Variant, Availability]] = []
    for variant in product_active_variants(product):
        variant.product = product  # already loaded; avoids a query per variant
        pairs.append((variant, availability_from_variant(variant, today=today)))
    return pairs


def product_price_range(product: Product) -> tuple[int, int, str] | None:
    """Lowest and highest active variant price (minor units) and currency."""
    variants = product_active_variants(product)
    prices = [v.price_minor for v in variants]
    if not prices:
        return None
    return min(prices), max(prices), variants[0].currency


def reservations_for_ref(*, ref: str) -> QuerySet[Reservation]:
    return Reservation.objects.filter(ref=ref).select_related("variant").order_by("pk")


def variant_main_images(*, variant_ids: list[int]) -> dict[int, ProductImage]:
    """The picture to show beside each variant (its own first, else its
    product's first), keyed by variant id, in one query."""
    if not variant_ids:
        return {}
    rows = (
        ProductImage.objects.filter(product__variants__id__in=variant_ids)
        .annotate(for_variant=F("product__variants__id"))
        .order_by("position", "pk")
    )
    chosen: dict[int, ProductImage] = {}
    for image in rows:
        variant_id = image.for_variant
        current = chosen.get(variant_id)
        own = image.variant_id == variant_id
        if current is None or (own and current.variant_id != variant_id):
            chosen[variant_id] = image
    return chosen


def variant_display_name(variant: Variant) -> str:
    """The product and its options as a shopper reads them: "Pocket Tee — Navy, M".

    The variant's product must be loaded (variant_get_by_sku does).
    """
    options = variant_options_label(variant)
    title = variant.product.title
    return f"{title} — {options}" if options and options != title else title


def variant_options_label(variant: Variant) -> str:
    """The variant's options alone ("Navy, M")."""
    if variant.title:
        return variant.title.replace(" / ", ", ")
    options = variant.option_values or {}
    # PostgreSQL's jsonb does not keep key order: read colour before size.
    names = sorted(options, key=lambda n: (OPTION_ORDER.get(n, len(OPTION_ORDER)), n))
    return ", ".join(str(options[name]) for name in names)


OPTION_ORDER = {"colour": 0, "color": 0, "size": 1}


def variants_low_stock(
    *, threshold: int = LOW_STOCK_THRESHOLD, limit: int = 10
) -> list[Variant]:
    """Active stocked variants with at most ``threshold`` on hand, emptiest first.

    Each carries ``on_hand_total`` (summed over locations) and its product.
    """
    return list(
        Variant.objects.filter(
            track_stock=True, is_active=True, product__is_active=True
        )
        .select_related("product")
        .annotate(on_hand_total=Coalesce(_on_hand_subquery(), 0))
        .filter(on_hand_total__lte=threshold)
        .order_by("on_hand_total", "sku")[:limit]
    )
