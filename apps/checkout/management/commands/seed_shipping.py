"""Create demo shipping zones, methods and tax rates (idempotent)."""

from django.core.management.base import BaseCommand

from apps.checkout.models import ShippingMethod, ShippingZone, TaxRate, WeightBand


class Command(BaseCommand):
    help = "Load demo shipping methods and tax rates (idempotent)."

    def handle(self, *args, **options):
        domestic, _ = ShippingZone.objects.get_or_create(
            name="United States", defaults={"countries": ["US"]}
        )
        europe, _ = ShippingZone.objects.get_or_create(
            name="Europe", defaults={"countries": ["FR", "DE", "ES", "IT", "NL", "GB"]}
        )
        ShippingMethod.objects.get_or_create(
            zone=domestic,
            name="Standard",
            defaults={
                "rate_type": "free_over",
                "price_minor": 500,
                "free_over_minor": 10_000,
                "currency": "USD",
                "min_delivery_days": 3,
                "max_delivery_days": 5,
            },
        )
        ShippingMethod.objects.get_or_create(
            zone=domestic,
            name="Express",
            defaults={
                "rate_type": "flat",
                "price_minor": 1500,
                "currency": "USD",
                "min_delivery_days": 1,
                "max_delivery_days": 2,
                "position": 1,
            },
        )
        parcel, _ = ShippingMethod.objects.get_or_create(
            zone=europe,
            name="International parcel",
            defaults={
                "rate_type": "weight",
                "currency": "USD",
                "min_delivery_days": 5,
                "max_delivery_days": 10,
            },
        )
        for grams, price in ((1000, 1200), (5000, 2500), (20000, 6000)):
            WeightBand.objects.get_or_create(
                method=parcel,
                max_weight_grams=grams,
                defaults={"price_minor": price},
            )
        for country, region, name, bp in (
            ("US", "CA", "CA sales tax", 725),
            ("US", "NY", "NY sales tax", 400),
            ("FR", "", "TVA", 2000),
            ("DE", "", "MwSt", 1900),
            ("GB", "", "VAT", 2000),
        ):
            TaxRate.objects.get_or_create(
                country=country,
                region=region,
                name=name,
                defaults={"basis_points": bp},
            )
        self.stdout.write("Shipping methods and tax rates ready.")
