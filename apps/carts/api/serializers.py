"""Cart body: the one representation every cart endpoint returns."""

from rest_framework import serializers

from apps.carts.selectors import CartView
from apps.core.api.serializers import MoneySerializer
from apps.core.money import money_api


class NoticeSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CartNotice"

    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class LineDiscountSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CartLineDiscount"

    code = serializers.CharField()
    amount = MoneySerializer()


class CartLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    quantity = serializers.IntegerField()
    max_quantity = serializers.IntegerField()
    unit_price = MoneySerializer()
    added_unit_price = MoneySerializer()
    subtotal = MoneySerializer()
    discount = MoneySerializer()
    line_total = MoneySerializer()
    discounts = LineDiscountSerializer(many=True)
    notices = NoticeSerializer(many=True)


class CartCouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.CharField()
    applied = serializers.BooleanField()
    discount = MoneySerializer()
    error = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


class CartTotalsSerializer(serializers.Serializer):
    subtotal = MoneySerializer()
    discount = MoneySerializer()
    shipping = MoneySerializer()
    shipping_discount = MoneySerializer()
    tax = MoneySerializer()
    total = MoneySerializer()
    shipping_calculated_at_checkout = serializers.BooleanField()


class CartSerializer(serializers.Serializer):
    id = serializers.UUIDField(
        help_text="For an anonymous cart the id is its bearer secret; keep it private."
    )
    version = serializers.IntegerField()
    status = serializers.CharField()
    currency = serializers.CharField()
    item_count = serializers.IntegerField()
    lines = CartLineSerializer(many=True)
    coupons = CartCouponSerializer(many=True)
    totals = CartTotalsSerializer()
    notices = NoticeSerializer(many=True)


def _notice(n) -> dict:
    return {"code": n.code, "message": n.message, "details": n.details}


def cart_body(view: CartView) -> dict:
    """Return the API body for a priced cart (shape documented by CartSerializer)."""
    c = view.currency
    b = view.breakdown
    return {
        "id": str(view.id),
        "version": view.version,
        "status": view.cart.status,
        "currency": c,
        "item_count": view.item_count,
        "lines": [
            {
                "id": line.id,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "max_quantity": line.max_quantity,
                "unit_price": money_api(line.unit_price_minor, c),
                "added_unit_price": money_api(line.added_unit_price_minor, c),
                "subtotal": money_api(line.subtotal_minor, c),
                "discount": money_api(line.discount_minor, c),
                "line_total": money_api(line.total_minor, c),
                "discounts": [
                    {"code": d.code, "amount": money_api(d.amount_minor, c)}
                    for d in line.discounts
                ],
                "notices": [_notice(n) for n in line.notices],
            }
            for line in view.lines
        ],
        "coupons": [
            {
                "code": coupon.code,
                "kind": coupon.kind,
                "applied": coupon.is_applied,
                "discount": money_api(
                    coupon.discount_minor + coupon.shipping_discount_minor, c
                ),
                "error": coupon.error,
                "message": coupon.message,
            }
            for coupon in view.coupons
        ],
        "totals": {
            "subtotal": money_api(b.subtotal_minor, c),
            "discount": money_api(b.discount_minor, c),
            "shipping": money_api(b.shipping_minor, c),
            "shipping_discount": money_api(b.shipping_discount_minor, c),
            "tax": money_api(b.tax_minor, c),
            "total": money_api(b.total_minor, c),
            "shipping_calculated_at_checkout": True,
        },
        "notices": [_notice(n) for n in view.notices],
    }
