import factory

from apps.checkout.models import ShippingMethod, ShippingZone, TaxRate, WeightBand


class ShippingZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingZone

    name = factory.Sequence(lambda n: f"Zone {n}")
    countries = factory.LazyFunction(lambda: ["US", "FR", "DE"])


class ShippingMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingMethod

    zone = factory.SubFactory(ShippingZoneFactory)
    name = factory.Sequence(lambda n: f"Standard {n}")
    rate_type = ShippingMethod.RateType.FLAT
    price_minor = 500
    currency = "USD"

    class Params:
        free_over = factory.Trait(
            rate_type=ShippingMethod.RateType.FREE_OVER, free_over_minor=5000
        )
        weight = factory.Trait(rate_type=ShippingMethod.RateType.WEIGHT)


class WeightBandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeightBand

    method = factory.SubFactory(ShippingMethodFactory, weight=True)
    max_weight_grams = 1000
    price_minor = 700


class TaxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxRate

    country = "US"
    region = ""
    name = "Sales tax"
    basis_points = 1000
