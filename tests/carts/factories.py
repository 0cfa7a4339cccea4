import factory

from apps.carts.models import Cart, CartCoupon, CartLine
from tests.coupons.factories import CouponFactory
from tests.inventory.factories import VariantFactory


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart

    currency = "USD"


class CartLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory(VariantFactory, stock=100)
    quantity = 1
    unit_price_minor = factory.LazyAttribute(lambda o: o.variant.price_minor)


class CartCouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartCoupon

    cart = factory.SubFactory(CartFactory)
    coupon = factory.SubFactory(CouponFactory)
