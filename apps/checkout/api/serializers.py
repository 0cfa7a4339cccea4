"""Response bodies of the checkout and order API (shape only, no rules)."""

from rest_framework import serializers

from apps.checkout.models import Checkout, Order
from apps.checkout.services import checkout_next_step
from apps.checkout.services.pricing import Totals
from apps.core.api.serializers import MoneySerializer
from apps.core.money import money_api


class TotalsSerializer(serializers.Serializer):
    subtotal = MoneySerializer()
    discount = MoneySerializer()
    shipping = MoneySerializer(
        allow_null=True,
        help_text="null while shipping is owed but not priced: no method chosen, "
        "or the chosen one no longer applies to this cart and address.",
    )
    tax = MoneySerializer()
    total = MoneySerializer()
    store_credit = MoneySerializer(help_text="Store credit spent on the total.")
    to_pay_by_card = MoneySerializer(help_text="The total less store credit.")
    prices_include_tax = serializers.BooleanField()


class AddressSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    line1 = serializers.CharField(max_length=255)
    line2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=128, required=False, allow_blank=True)
    region = serializers.CharField(max_length=128, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)


class LineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    title = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = MoneySerializer()
    discount = MoneySerializer()
    total = MoneySerializer()


class ShippingMethodSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price = MoneySerializer()
    estimate = serializers.CharField()


class CheckoutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.CharField()
    next_step = serializers.CharField()
    cart = serializers.UUIDField()
    email = serializers.EmailField(allow_blank=True)
    marketing_consent = serializers.BooleanField()
    requires_shipping = serializers.BooleanField()
    shipping_address = AddressSerializer(allow_null=True)
    billing_address = AddressSerializer(allow_null=True)
    billing_same_as_shipping = serializers.BooleanField()
    shipping_method = ShippingMethodSerializer(allow_null=True)
    lines = LineSerializer(many=True)
    coupons = serializers.ListField(child=serializers.DictField())
    totals = TotalsSerializer()
    order_number = serializers.CharField(allow_null=True)


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    title = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = MoneySerializer()
    total = MoneySerializer()
    backordered_quantity = serializers.IntegerField()


class OrderSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    email = serializers.EmailField()
    created_at = serializers.DateTimeField()
    totals = TotalsSerializer()
    lines = OrderLineSerializer(many=True)
    shipping_address = AddressSerializer(allow_null=True)
    shipping_method = serializers.CharField(allow_blank=True)
    tracking_number = serializers.CharField(allow_blank=True)


class PaymentSessionSerializer(serializers.Serializer):
    payment_intent_id = serializers.CharField()
    client_secret = serializers.CharField()
    amount = MoneySerializer()
    publishable_key = serializers.CharField()
    order_number = serializers.CharField()
    status = serializers.CharField()


def checkout_body(checkout: Checkout, totals: Totals, *, order_number=None) -> dict:
    cur = totals.currency
    method = None
    # A chosen method that no longer quotes is not chosen (never priced at 0).
    shipping_method = totals.shipping_quote.method if totals.shipping_quote else None
    if shipping_method is not None:
        method = {
            "id": shipping_method.pk,
            "name": shipping_method.name,
            "price": money_api(totals.shipping_minor, cur),
            "estimate": f"{shipping_method.min_delivery_days}–"
            f"{shipping_method.max_delivery_days} business days",
        }
    return {
        "id": str(checkout.pk),
        "state": checkout.state,
        "next_step": checkout_next_step(
            checkout,
            requires_shipping=totals.requires_shipping,
            shipping_quoted=not totals.shipping_method_lapsed,
        ),
        "cart": str(checkout.cart_id),
        "email": checkout.email,
        "marketing_consent": checkout.marketing_consent,
        "requires_shipping": totals.requires_shipping,
        "shipping_address": checkout.shipping_address,
        "billing_address": checkout.billing_address,
        "billing_same_as_shipping": checkout.billing_same_as_shipping,
        "shipping_method": method,
        "lines": [
            {
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": money_api(line.unit_price_minor, cur),
                "discount": money_api(line.discount_minor, cur),
                "total": money_api(line.total_minor, cur),
            }
            for line in totals.view.lines
        ],
        "coupons": [
            {"code": c.code, "is_applied": c.is_applied, "message": c.message}
            for c in totals.view.coupons
        ],
        "totals": totals.as_api(),
        "order_number": order_number,
    }


def order_body(order: Order) -> dict:
    cur = order.currency
    return {
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "created_at": order.created_at.isoformat(),
        "totals": {
            "subtotal": money_api(order.subtotal_minor, cur),
            "discount": money_api(order.discount_minor, cur),
            "shipping": money_api(
                order.shipping_minor - order.shipping_discount_minor, cur
            ),
            "tax": money_api(order.tax_minor, cur),
            "total": money_api(order.total_minor, cur),
            "store_credit": money_api(order.credit_minor, cur),
            "to_pay_by_card": money_api(order.card_minor, cur),
            "prices_include_tax": order.prices_include_tax,
        },
        "lines": [
            {
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": money_api(line.unit_price_minor, cur),
                "total": money_api(line.total_minor, cur),
                "backordered_quantity": line.backordered_quantity,
            }
            for line in order.lines.all()
        ],
        "shipping_address": order.shipping_address,
        "shipping_method": order.shipping_method_name,
        "tracking_number": order.tracking_number,
    }
