"""Output shapes for the public catalogue API (names are schema component names)."""

from rest_framework import serializers

from apps.core.api.serializers import MoneySerializer


class CatalogueCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    # SerializerMetaclass takes declared fields off the class: no clash with
    # Field.parent at runtime.
    parent = serializers.SlugField(allow_null=True, help_text="Parent slug or null.")  # type: ignore[assignment]  # a field, not Field.parent


class CatalogueVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    option_values = serializers.DictField(child=serializers.CharField())
    price = MoneySerializer()
    compare_at_price = MoneySerializer(allow_null=True)
    weight_grams = serializers.IntegerField()
    max_per_order = serializers.IntegerField(allow_null=True)
    stock_tracked = serializers.BooleanField(
        help_text="False for variants sold without a stock limit (gift cards, "
        "downloads): then `available` is 0 and says nothing; read `purchasable`."
    )
    available = serializers.IntegerField(
        help_text="Units that can be bought from stock now (when stock_tracked)."
    )
    backorder = serializers.BooleanField(
        help_text="No stock, but orders are accepted and ship later."
    )
    purchasable = serializers.BooleanField()
    expected_ship_date = serializers.DateField(
        allow_null=True, help_text="When backordered units are expected to ship."
    )
    status = serializers.ChoiceField(
        choices=["in_stock", "low_stock", "backorder", "out_of_stock", "unavailable"]
    )


class CatalogueImageSerializer(serializers.Serializer):
    url = serializers.CharField()
    alt_text = serializers.CharField()


class CatalogueProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    title = serializers.CharField()
    category = CatalogueCategorySerializer()
    price_from = MoneySerializer(allow_null=True)
    purchasable = serializers.BooleanField()
    variants = CatalogueVariantSerializer(many=True)


class CatalogueProductDetailSerializer(CatalogueProductSerializer):
    description = serializers.CharField()
    images = CatalogueImageSerializer(many=True)


class CatalogueProductPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CatalogueProductSerializer(many=True)
