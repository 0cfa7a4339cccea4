"""Demo coupons that show each kind the engine supports. Idempotent: matched
by code, and a coupon staff have since edited is left as it is."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.coupons.models import Coupon

K = Coupon.Kind
DEMO_COUPONS: list[dict[str, Any]] = [
    {
        "code": "WELCOME10",
        "kind": K.PERCENTAGE,
        "value": 1_000,  # 10 %
        "is_first_order_only": True,
    },
    {"code": "FREESHIP", "kind": K.FREE_SHIPPING, "value": 0},
    {
        "code": "BUNDLE",
        "kind": K.BUY_X_GET_Y,
        "value": 10_000,  # the third item is free
        "buy_quantity": 2,
        "get_quantity": 1,
    },
]


class Command(BaseCommand):
    help = "Create the demo coupons WELCOME10, FREESHIP and BUNDLE (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        for values in DEMO_COUPONS:
            values = dict(values)
            code: str = values.pop("code")
            if Coupon.objects.filter(code__iexact=code).exists():
                continue
            coupon = Coupon(code=code, **values)
            coupon.full_clean()
            coupon.save()
        codes = ", ".join(str(c["code"]) for c in DEMO_COUPONS)
        self.stdout.write(f"Demo coupons: {codes}")
