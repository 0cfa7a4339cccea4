import factory

from apps.inventory.models import (
    DEFAULT_LOCATION,
    BackInStockSubscription,
    Category,
    Product,
    ProductImage,
    ProductOption,
    ProductType,
    Reservation,
    StockItem,
    Variant,
)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    title = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    category = factory.SubFactory(CategoryFactory)
    is_active = True


class ProductImageFactory(factory.django.DjangoModelFactory):
    """An image row naming a file; no file is written (pages only build its URL)."""

    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    image = factory.Sequence(lambda n: f"products/image-{n}.jpg")
    alt_text = factory.Sequence(lambda n: f"Picture {n}")


class VariantFactory(factory.django.DjangoModelFactory):
    """A variant; ``VariantFactory(stock=5)`` also creates its StockItem."""

    class Meta:
        model = Variant
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = ""
    option_values = factory.LazyFunction(dict)
    price_minor = 1999
    currency = "USD"
    track_stock = True
    allow_backorder = False

    class Params:
        backorderable = factory.Trait(allow_backorder=True, backorder_lead_days=14)

    @factory.post_generation
    def stock(obj, create, extracted, **kwargs):
        if create and extracted is not None:
            StockItemFactory(variant=obj, on_hand=extracted)


class StockItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockItem
        django_get_or_create = ("variant", "location")

    variant = factory.SubFactory(VariantFactory)
    location = DEFAULT_LOCATION
    on_hand = 0


class ReservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reservation

    variant = factory.SubFactory(VariantFactory)
    quantity = 1
    ref = factory.Sequence(lambda n: f"ref-{n}")
    expires_at = factory.LazyFunction(
        lambda: (
            __import__("django.utils.timezone").utils.timezone.now()
            + __import__("datetime").timedelta(minutes=15)
        )
    )


class BackInStockSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackInStockSubscription

    variant = factory.SubFactory(VariantFactory)
    email = factory.Sequence(lambda n: f"shopper{n}@example.com")


class ProductTypeFactory(factory.django.DjangoModelFactory):
    """A product type; ``ProductTypeFactory(options={"size": ["S", "M"]})``."""

    class Meta:
        model = ProductType
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Type {n}")

    @factory.post_generation
    def options(obj, create, extracted, **kwargs):
        if create and extracted:
            for position, (name, values) in enumerate(extracted.items()):
                ProductOptionFactory(
                    product_type=obj, name=name, values=values, position=position
                )


class ProductOptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductOption

    product_type = factory.SubFactory(ProductTypeFactory)
    name = factory.Sequence(lambda n: f"option{n}")
    values = factory.LazyFunction(list)
