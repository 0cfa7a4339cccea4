"""Public catalogue API: products (list, detail) and categories."""

from typing import TYPE_CHECKING, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.pagination import PageNumberPagination
from apps.core.api.schema import raises
from apps.core.exceptions import NotFound, ValidationFailed
from apps.core.money import money_api
from apps.inventory import selectors
from apps.inventory.api.serializers import (
    CatalogueCategorySerializer,
    CatalogueProductDetailSerializer,
    CatalogueProductPageSerializer,
)
from apps.inventory.exceptions import ProductNotFound

if TYPE_CHECKING:
    from apps.inventory.models import Product


def _money_or_none(amount_minor: int | None, currency: str) -> dict | None:
    return None if amount_minor is None else money_api(amount_minor, currency)


def _category(category):
    return {
        "id": category.pk,
        "name": category.name,
        "slug": category.slug,
        "parent": category.parent.slug if category.parent_id else None,
    }


def _product(product, *, detail=False, request=None) -> dict:
    pairs = selectors.product_variant_availability(product)
    price_range = selectors.product_price_range(product)
    data = {
        "id": product.pk,
        "slug": product.slug,
        "title": product.title,
        "category": _category(product.category),
        "price_from": _money_or_none(*price_range[::2]) if price_range else None,
        "purchasable": any(a.purchasable for _, a in pairs),
        "variants": [
            {
                "id": v.pk,
                "sku": v.sku,
                "title": v.display_title,
                "option_values": {
                    k: str(x) for k, x in (v.option_values or {}).items()
                },
                "price": money_api(v.price_minor, v.currency),
                "compare_at_price": _money_or_none(
                    v.compare_at_price_minor, v.currency
                ),
                "weight_grams": v.weight_grams,
                "max_per_order": v.max_per_order,
                "stock_tracked": a.track_stock,
                "available": a.available,
                "backorder": a.backorder,
                "purchasable": a.purchasable,
                "expected_ship_date": a.expected_ship_date,
                "status": a.status,
            }
            for v, a in pairs
        ],
    }
    if detail:
        data["description"] = product.description
        data["images"] = [
            {
                "url": request.build_absolute_uri(image.image.url),
                "alt_text": image.alt_text,
            }
            for image in product.images.all()
        ]
    return data


class ProductListApi(APIView):
    """Active products with their variants, price and availability."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=100)
        category = serializers.SlugField(
            required=False, allow_blank=True, max_length=140
        )

    @extend_schema(
        operation_id="products_list",
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Title or SKU"),
            OpenApiParameter("category", OpenApiTypes.STR, description="Category slug"),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=CatalogueProductPageSerializer,
    )
    @raises(ValidationFailed, NotFound)
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        products = selectors.product_list(
            q=filters.validated_data.get("q") or None,
            category_slug=filters.validated_data.get("category") or None,
        )
        paginator = PageNumberPagination()
        # Never None: settings give REST_FRAMEWORK a PAGE_SIZE.
        page = cast(
            "list[Product]", paginator.paginate_queryset(products, request, view=self)
        )
        return paginator.get_paginated_response([_product(p) for p in page])


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="products_retrieve", responses=CatalogueProductDetailSerializer
    )
    @raises(ProductNotFound)
    def get(self, request, slug):
        product = selectors.product_get(slug=slug)
        data = _product(product, detail=True, request=request)
        return Response(CatalogueProductDetailSerializer(data).data)


class CategoryListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="categories_list",
        responses=CatalogueCategorySerializer(many=True),
    )
    def get(self, request):
        categories = [_category(c) for c in selectors.category_list()]
        return Response(CatalogueCategorySerializer(categories, many=True).data)
