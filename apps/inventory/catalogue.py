"""Storefront browsing reads: search, filters, sort, facets and the category menu.

Search on PostgreSQL is full text (weighted title > category > description)
ranked by SearchRank, plus trigram word similarity on the title so a typo
still finds the product; elsewhere (SQLite) it is a case-insensitive match.
Every SKU matches exactly or by substring on both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramWordSimilarity,
)
from django.db import connection
from django.db.models import (
    Exists,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Greatest

from apps.inventory.models import Category, Product, ProductImage, Variant
from apps.inventory.selectors import variants_with_availability

SORTS = {
    "relevance": "Relevance",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "newest": "Newest",
}
SEARCH_CONFIG = "english"
# Below this a title is not "like" the query (pg_trgm's own default is 0.6 for
# word similarity; a one-letter typo in a short word scores about 0.5).
TRIGRAM_THRESHOLD = 0.4
FACET_OPTIONS = ("size", "colour")


@dataclass(frozen=True, slots=True)
class ProductFilters:
    q: str = ""
    category_slug: str = ""
    min_price_minor: int | None = None
    max_price_minor: int | None = None
    in_stock: bool = False
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = "relevance"


def search_vector() -> CombinedExpression:
    """The weighted document a product is searched by (PostgreSQL).

    Title and description are the product's own columns, so this expression
    matches the GIN index of migration 0003; the category name is joined.
    """
    return (
        SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("category__name", weight="B", config=SEARCH_CONFIG)
        + SearchVector("description", weight="C", config=SEARCH_CONFIG)
    )


def product_document() -> CombinedExpression:
    """Title and description only: the expression the GIN index of migration
    0003 is built on, so filtering by it can use the index."""
    return SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "description", weight="C", config=SEARCH_CONFIG
    )


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _search(qs: QuerySet[Product], q: str) -> QuerySet[Product]:
    sku_match = Exists(
        Variant.objects.filter(product=OuterRef("pk"), is_active=True, sku__icontains=q)
    )
    if not _is_postgres():
        return qs.filter(
            Q(title__icontains=q)
            | Q(description__icontains=q)
            | Q(category__name__icontains=q)
            | sku_match
        ).annotate(relevance=Value(0.0, output_field=FloatField()))
    query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
    return (
        qs.annotate(
            rank=SearchRank(search_vector(), query),
            similarity=Greatest(
                TrigramWordSimilarity(q, "title"),
                TrigramWordSimilarity(q, "category__name"),
            ),
            document=product_document(),
            category_document=SearchVector("category__name", config=SEARCH_CONFIG),
        )
        .filter(
            Q(document=query)
            | Q(category_document=query)
            | Q(similarity__gte=TRIGRAM_THRESHOLD)
            | sku_match
        )
        .annotate(relevance=F("rank") + F("similarity"))
    )


def _min_price_subquery() -> Subquery:
    return Subquery(
        Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        .order_by("price_minor")
        .values("price_minor")[:1]
    )


def _category_filter(slug: str) -> Q:
    return (
        Q(category__slug=slug)
        | Q(category__parent__slug=slug)
        | Q(category__parent__parent__slug=slug)
    )


def _base(filters: ProductFilters) -> QuerySet[Product]:
    qs = Product.objects.filter(is_active=True)
    if filters.category_slug:
        qs = qs.filter(_category_filter(filters.category_slug))
    return qs


def product_search(filters: ProductFilters) -> QuerySet[Product]:
    """Active products matching the filters, sorted, with ``min_price`` annotated.

    Each product carries ``active_variants`` (availability annotated) and
    ``gallery`` (its images by position): a fixed number of queries whatever
    the page size.
    """
    qs = _base(filters).select_related("category", "category__parent")
    q = filters.q.strip()
    if q:
        qs = _search(qs, q)
    variant_rules = Q()
    if filters.min_price_minor is not None:
        variant_rules &= Q(price_minor__gte=filters.min_price_minor)
    if filters.max_price_minor is not None:
        variant_rules &= Q(price_minor__lte=filters.max_price_minor)
    for name, values in filters.options.items():
        if values:
            variant_rules &= Q(**{f"option_values__{name}__in": list(values)})
    if variant_rules or filters.in_stock:
        matching = Variant.objects.filter(variant_rules, product=OuterRef("pk"))
        matching = matching.filter(is_active=True)
        if filters.in_stock:
            matching = variants_with_availability(matching).filter(
                Q(track_stock=False)
                | Q(allow_backorder=True)
                | Q(stock_on_hand__gt=F("stock_reserved"))
            )
        qs = qs.filter(Exists(matching))
    qs = qs.annotate(min_price=_min_price_subquery())
    orderings: dict[str, list[Any]] = {
        "price_asc": [F("min_price").asc(nulls_last=True), "title", "pk"],
        "price_desc": [F("min_price").desc(nulls_last=True), "title", "pk"],
        "newest": ["-created_at", "-pk"],
    }
    ordering = orderings.get(filters.sort)
    if ordering is None:
        ordering = ["-relevance", "title", "pk"] if q else ["title", "pk"]
    return qs.prefetch_related(*storefront_prefetches()).order_by(*ordering)


def storefront_prefetches() -> list[Prefetch]:
    return [
        Prefetch(
            "variants",
            queryset=variants_with_availability(
                Variant.objects.filter(is_active=True)
            ).order_by("position", "pk"),
            to_attr="active_variants",
        ),
        Prefetch(
            "images",
            queryset=ProductImage.objects.order_by("position", "pk"),
            to_attr="gallery",
        ),
    ]


def product_main_image(product: Product) -> ProductImage | None:
    """The first picture of a product loaded by product_search."""
    gallery = getattr(product, "gallery", None)
    return gallery[0] if gallery else None


def option_facets(filters: ProductFilters) -> dict[str, list[str]]:
    """Option values (size, colour) of the active variants in view, in one query.

    Computed over the category only, so picking a size does not hide the others.
    """
    rows = Variant.objects.filter(
        is_active=True, product__in=_base(filters).values("pk")
    ).values_list("option_values", flat=True)
    seen: dict[str, dict[str, None]] = defaultdict(dict)
    for options in rows:
        for name in FACET_OPTIONS:
            value = (options or {}).get(name)
            if isinstance(value, str) and value:
                seen[name][value] = None
    return {name: _sorted_values(name, list(seen[name])) for name in seen}


_SIZE_ORDER = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "Small", "Medium", "Large"]


def _sorted_values(name: str, values: list[str]) -> list[str]:
    if name == "size":
        return sorted(
            values,
            key=lambda v: (_SIZE_ORDER.index(v) if v in _SIZE_ORDER else 99, v),
        )
    return sorted(values)


@dataclass(frozen=True, slots=True)
class MenuCategory:
    category: Category
    children: list[Category]


def category_menu() -> list[MenuCategory]:
    """Top-level categories with their subcategories, in one query."""
    categories = list(Category.objects.order_by("position", "name"))
    children: dict[int, list[Category]] = defaultdict(list)
    for category in categories:
        if category.parent_id is not None:
            children[category.parent_id].append(category)
    return [
        MenuCategory(category=c, children=children.get(c.pk, []))
        for c in categories
        if c.parent_id is None
    ]


def featured_products(*, limit: int = 8) -> QuerySet[Product]:
    """Products marked featured (newest first), else the newest ones."""
    qs = (
        Product.objects.filter(is_active=True)
        .select_related("category")
        .prefetch_related(*storefront_prefetches())
        .annotate(min_price=_min_price_subquery())
    )
    return qs.order_by("-is_featured", "-created_at", "-pk")[:limit]
