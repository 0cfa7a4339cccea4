import datetime

import factory
from django.utils import timezone

from apps.coupons.models import Coupon, CouponRedemption


class CouponFactory(factory.django.DjangoModelFactory):
    """A 10 % coupon; traits for the other kinds and states."""

    class Meta:
        model = Coupon
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"CODE{n:04d}")
    kind = Coupon.Kind.PERCENTAGE
    value = 1000
    currency = "USD"
    is_active = True

    class Params:
        fixed = factory.Trait(kind=Coupon.Kind.FIXED_AMOUNT, value=500)
        free_shipping = factory.Trait(kind=Coupon.Kind.FREE_SHIPPING, value=0)
        bxgy = factory.Trait(
            kind=Coupon.Kind.BUY_X_GET_Y, value=10_000, buy_quantity=2, get_quantity=1
        )
        expired = factory.Trait(
            starts_at=factory.LazyFunction(
                lambda: timezone.now() - datetime.timedelta(days=10)
            ),
            ends_at=factory.LazyFunction(
                lambda: timezone.now() - datetime.timedelta(days=1)
            ),
        )
        not_started = factory.Trait(
            starts_at=factory.LazyFunction(
                lambda: timezone.now() + datetime.timedelta(days=1)
            )
        )
        inactive = factory.Trait(is_active=False)
        for_subscriptions = factory.Trait(applies_to=Coupon.AppliesTo.SUBSCRIPTIONS)
        for_both = factory.Trait(applies_to=Coupon.AppliesTo.BOTH)


class CouponRedemptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CouponRedemption

    coupon = factory.SubFactory(CouponFactory)
    order_ref = factory.Sequence(lambda n: f"order-{n}")
    customer_key = factory.Sequence(lambda n: f"email:shopper{n}@example.com")
    discount_minor = 100
    currency = "USD"
