import factory
from django.utils import timezone

from apps.checkout.models import (
    Checkout,
    Order,
    OrderLine,
    ShippingMethod,
    ShippingZone,
    TaxRate,
    WeightBand,
)
from tests.billing.factories import PaymentFactory, RefundFactory
from tests.carts.factories import CartFactory, CartLineFactory


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


# --- orders, checkouts (rows as the services leave them, no Stripe call) ----------

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1600 Amphitheatre Pkwy",
    "city": "Mountain View",
    "region": "CA",
    "postal_code": "94043",
    "country": "US",
    "phone": "+1 650 253 0000",
}


class CheckoutFactory(factory.django.DjangoModelFactory):
    """A checkout of a one-line cart; ``at_payment=True`` has everything set."""

    class Meta:
        model = Checkout
        skip_postgeneration_save = True

    cart = factory.SubFactory(CartFactory)
    state = Checkout.State.CART_REVIEW

    class Params:
        at_payment = factory.Trait(
            state=Checkout.State.PAYMENT,
            email=factory.Sequence(lambda n: f"shopper{n}@example.com"),
            shipping_address=factory.LazyFunction(lambda: dict(ADDRESS)),
            billing_same_as_shipping=True,
            shipping_method=factory.SubFactory(ShippingMethodFactory),
        )
        completed = factory.Trait(at_payment=True, state=Checkout.State.COMPLETED)

    @factory.post_generation
    def line(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            CartLineFactory(cart=obj.cart, **kwargs)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = None
    variant = None
    sku = factory.Sequence(lambda n: f"SKU-T{n:05d}")
    title = factory.Sequence(lambda n: f"Mug {n}")
    quantity = 1
    unit_price_minor = 1000
    subtotal_minor = factory.LazyAttribute(lambda o: o.unit_price_minor * o.quantity)
    total_minor = factory.SelfAttribute("subtotal_minor")


def _total(o) -> int:
    tax = 0 if o.prices_include_tax else o.tax_minor
    return (
        o.subtotal_minor
        - o.discount_minor
        + o.shipping_minor
        - o.shipping_discount_minor
        + tax
    )


class OrderFactory(factory.django.DjangoModelFactory):
    """An order with one line of 10.00 (``lines=N``: N), 5.00 shipping, its payment.

    Traits follow the order's life: ``paid``, ``fulfilled``, ``cancelled``,
    ``refunded``, ``partially_refunded``. A paid order has a succeeded payment
    for its total (billing's row, referenced by the order number); a refunded
    one has its refunds. ``payment=False`` leaves the payment out.
    """

    class Meta:
        model = Order
        skip_postgeneration_save = True

    class Params:
        paid = factory.Trait(
            status=Order.Status.PAID, paid_at=factory.LazyFunction(timezone.now)
        )
        fulfilled = factory.Trait(
            paid=True,
            status=Order.Status.FULFILLED,
            fulfilled_at=factory.LazyFunction(timezone.now),
            carrier="UPS",
            tracking_number=factory.Sequence(lambda n: f"1Z{n:010d}"),
        )
        cancelled = factory.Trait(
            status=Order.Status.CANCELLED,
            cancelled_at=factory.LazyFunction(timezone.now),
        )
        refunded = factory.Trait(
            paid=True,
            status=Order.Status.REFUNDED,
            refunded_minor=factory.SelfAttribute("total_minor"),
        )
        partially_refunded = factory.Trait(
            paid=True,
            status=Order.Status.PARTIALLY_REFUNDED,
            refunded_minor=factory.LazyAttribute(lambda o: o.total_minor // 2),
        )

    number = factory.Sequence(lambda n: f"T{n // 10000 % 1000:03d}-{n % 10000:04d}")
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    status = Order.Status.PENDING_PAYMENT
    currency = "USD"
    subtotal_minor = 1000
    shipping_minor = 500
    discount_minor = 0
    shipping_discount_minor = 0
    tax_minor = 0
    prices_include_tax = False
    total_minor = factory.LazyAttribute(_total)
    shipping_address = factory.LazyFunction(lambda: dict(ADDRESS))
    billing_address = factory.LazyFunction(lambda: dict(ADDRESS))
    shipping_method_name = "Standard"

    @factory.post_generation
    def lines(obj, create, extracted, **kwargs):
        """``lines=N``: N lines of 10.00, and the totals to match."""
        if not create:
            return
        count = 1 if extracted is None else extracted
        lines = [OrderLineFactory(order=obj, **kwargs) for _ in range(count)]
        if extracted is not None:
            obj.subtotal_minor = sum(line.subtotal_minor for line in lines)
            obj.total_minor = _total(obj)
            if obj.status == Order.Status.REFUNDED:
                obj.refunded_minor = obj.total_minor
            obj.save(update_fields=["subtotal_minor", "total_minor", "refunded_minor"])

    @factory.post_generation
    def payment(obj, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        if obj.status == Order.Status.PENDING_PAYMENT:
            status = {"status": "requires_payment_method"}
        elif obj.paid_at is None:
            status = {"canceled": True}
        else:
            status = {"succeeded": True}
        payment = PaymentFactory(
            reference=obj.number,
            amount_minor=obj.total_minor,
            currency=obj.currency,
            **{**status, **kwargs},
        )
        if obj.refunded_minor:
            RefundFactory(payment=payment, amount_minor=obj.refunded_minor)
