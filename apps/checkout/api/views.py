"""Checkout and order API for the mobile app (one APIView per operation).

Anonymous checkouts are reached by their unguessable id; a signed-in
shopper's checkouts and orders answer 404 to everyone else.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.billing.exceptions import PaymentDeclined, PaymentProviderError
from apps.carts import selectors as cart_selectors
from apps.carts.exceptions import CartNotFound
from apps.checkout import selectors, services
from apps.checkout.api.serializers import (
    AddressSerializer,
    CheckoutSerializer,
    MoneySerializer,
    OrderSerializer,
    PaymentSessionSerializer,
    ShippingMethodSerializer,
    checkout_body,
    order_body,
)
from apps.checkout.exceptions import (
    CartEmpty,
    CheckoutIncomplete,
    CheckoutNotFound,
    OrderNotFound,
    PaymentIncomplete,
    ShippingMethodLapsed,
    ShippingMethodUnavailable,
)
from apps.checkout.services.checkout import (
    checkout_start_priced,
    checkout_update,
)
from apps.checkout.services.pricing import Totals
from apps.checkout.services.store_credit import checkout_set_credit
from apps.core import ratelimit
from apps.core.api.schema import raises
from apps.core.exceptions import InvalidTransition, ValidationFailed
from apps.core.idempotency import idempotent
from apps.core.money import money_api
from apps.core.ratelimit import RateLimitThrottle
from apps.coupons.exceptions import CouponNotApplicable
from apps.inventory.exceptions import OutOfStock
from apps.wallets.exceptions import (
    GiftCardExpired,
    GiftCardInvalid,
    InsufficientCredit,
    WalletAmountInvalid,
)
from apps.wallets.throttling import gift_card_limit_hit

# Checkout.email / Order.email are EmailField(max_length=254): longer is refused
# here, not by the database (PostgreSQL would raise DataError, a 500).
EMAIL_MAX_LENGTH = 254


def _create_scope(request, kwargs) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    data = request.data if isinstance(request.data, dict) else {}
    return f"cart:{data.get('cart', '')}"


class CheckoutApiBase(APIView):
    permission_classes = [AllowAny]

    def checkout_for(self, checkout_id):
        return selectors.checkout_get(checkout_id=checkout_id, user=self.request.user)

    def respond(self, checkout, totals: Totals | None = None, *, status=200):
        """Render the checkout with the totals the service priced, if it did."""
        if totals is None:
            totals = services.checkout_totals(checkout=checkout)
        order = None
        # No payment started (no fingerprint): no order to look up.
        if checkout.totals_fingerprint and hasattr(checkout, "order"):
            order = checkout.order
        return Response(
            checkout_body(
                checkout, totals, order_number=order.number if order else None
            ),
            status=status,
        )


class CheckoutCreateApi(CheckoutApiBase):
    rate_limits = {"POST": ("checkout",)}

    class InputSerializer(serializers.Serializer):
        cart = serializers.UUIDField()
        email = serializers.EmailField(required=False, max_length=EMAIL_MAX_LENGTH)

    @extend_schema(
        request=InputSerializer,
        responses={201: CheckoutSerializer, 200: CheckoutSerializer},
        summary="Start (or resume) the checkout of a cart",
    )
    @idempotent(scope=_create_scope)
    @raises(CartNotFound, CartEmpty, InvalidTransition, ValidationFailed)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart = cart_selectors.cart_get(
            cart_id=data.validated_data["cart"], user=request.user
        )
        checkout, created, totals = checkout_start_priced(
            cart=cart,
            user=request.user,
            email=data.validated_data.get("email", ""),
            request=request,
        )
        return self.respond(checkout, totals, status=201 if created else 200)


class CheckoutDetailApi(CheckoutApiBase):
    rate_limits = {"GET": ("checkout",), "PATCH": ("checkout",)}

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(required=False, max_length=EMAIL_MAX_LENGTH)
        marketing_consent = serializers.BooleanField(required=False)
        shipping_address = AddressSerializer(required=False)
        billing_address = AddressSerializer(required=False, allow_null=True)
        billing_same_as_shipping = serializers.BooleanField(required=False)
        shipping_method = serializers.IntegerField(required=False)

    @extend_schema(responses={200: CheckoutSerializer})
    @raises(CheckoutNotFound)
    def get(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        services.checkout_hold_renew(checkout=checkout)
        return self.respond(checkout)

    @extend_schema(
        request=InputSerializer,
        responses={200: CheckoutSerializer},
        summary="Fill in checkout steps (validated as on the pages)",
    )
    @raises(
        CheckoutNotFound,
        InvalidTransition,
        ValidationFailed,
        CheckoutIncomplete,
        ShippingMethodUnavailable,
    )
    def patch(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        services.checkout_hold_renew(checkout=checkout)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        checkout, totals = checkout_update(
            checkout=checkout,
            email=values.get("email"),
            marketing_consent=values.get("marketing_consent", False),
            shipping_address=values.get("shipping_address"),
            billing_address=values.get("billing_address"),
            billing_same_as_shipping=values.get("billing_same_as_shipping"),
            shipping_method_id=values.get("shipping_method"),
        )
        return self.respond(checkout, totals)


class CheckoutShippingMethodsApi(CheckoutApiBase):
    rate_limits = {"GET": ("checkout",)}

    @extend_schema(responses={200: ShippingMethodSerializer(many=True)})
    @raises(CheckoutNotFound)
    def get(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        services.checkout_hold_renew(checkout=checkout)
        quotes = services.checkout_shipping_quotes(checkout=checkout)
        return Response(
            [
                {
                    "id": q.id,
                    "name": q.name,
                    "price": money_api(q.price_minor, q.currency),
                    "estimate": q.estimate,
                }
                for q in quotes
            ]
        )


class CheckoutPaymentCreateApi(CheckoutApiBase):
    rate_limits = {"POST": ("checkout", "checkout-payment")}

    @extend_schema(
        request=None,
        responses={200: PaymentSessionSerializer},
        summary="Reserve stock, place the pending order, get the PaymentIntent",
    )
    @idempotent
    @raises(
        CheckoutNotFound,
        InvalidTransition,
        CheckoutIncomplete,
        OutOfStock,
        CouponNotApplicable,
        PaymentProviderError,
        ShippingMethodLapsed,
        InsufficientCredit,
    )
    def post(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        session = services.checkout_payment_start(checkout=checkout, request=request)
        return Response(
            {
                "payment_intent_id": session.payment_intent_id,
                "client_secret": session.client_secret,
                "amount": money_api(session.amount_minor, session.currency),
                "publishable_key": session.publishable_key,
                "order_number": session.order.number,
                "status": session.status,
            }
        )


class CheckoutStoreCreditApi(CheckoutApiBase):
    rate_limits = {"POST": ("checkout",)}

    class InputSerializer(serializers.Serializer):
        amount = serializers.IntegerField(
            min_value=0,
            allow_null=True,
            help_text="Store credit to spend, in minor units: null for all that "
            "is available (the default), 0 for none.",
        )

        class Meta:
            ref_name = "CheckoutStoreCreditInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: CheckoutSerializer},
        summary="Choose how much store credit to spend",
        description="Signed-in shoppers only. totals.store_credit and "
        "totals.to_pay_by_card show the split; start payment (again) after.",
    )
    @idempotent
    @raises(
        CheckoutNotFound,
        InvalidTransition,
        ValidationFailed,
        WalletAmountInvalid,
        InsufficientCredit,
    )
    def post(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        checkout = checkout_set_credit(
            checkout=checkout, amount_minor=data.validated_data["amount"]
        )
        return self.respond(self.checkout_for(checkout.pk))


class _GiftCardThrottle(BaseThrottle):
    """The gift-card guessing limit the redeem and balance APIs count too."""

    def allow_request(self, request, view) -> bool:
        used = gift_card_limit_hit(request)
        if used is not None:
            raise Throttled(wait=used.time_left, detail=ratelimit.MESSAGE)
        return True


class CheckoutGiftCardApi(CheckoutApiBase):
    rate_limits = {"POST": ("checkout",)}
    throttle_classes = [RateLimitThrottle, _GiftCardThrottle]

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=64)

        class Meta:
            ref_name = "CheckoutGiftCardInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: CheckoutSerializer},
        summary="Redeem a gift card into the wallet and spend it here",
        description="Signed-in shoppers only (a guest checkout is 400 "
        "wallet_amount_invalid: sign in first). The card's balance goes to the "
        "wallet, and the checkout spends all the wallet's credit, up to the "
        "total. Unknown, used-up and someone else's codes answer alike.",
    )
    @idempotent
    @raises(
        CheckoutNotFound,
        InvalidTransition,
        ValidationFailed,
        WalletAmountInvalid,
        GiftCardInvalid,
        GiftCardExpired,
    )
    def post(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.checkout_gift_card_apply(
            checkout=checkout, code=data.validated_data["code"], user=request.user
        )
        return self.respond(self.checkout_for(checkout.pk))


class CheckoutChangeCartApi(CheckoutApiBase):
    rate_limits = {"POST": ("checkout",)}

    @extend_schema(
        request=None,
        responses={200: CheckoutSerializer},
        summary="Cancel the started payment so the cart can change again",
        description="Once a payment is started its cart is locked (cart writes "
        "answer 409 cart_locked). This cancels the PaymentIntent at Stripe, "
        "cancels the pending order, releases the stock and unlocks the cart; "
        "the checkout goes back to its step before payment. 409 "
        "invalid_state_transition when the payment succeeded or is processing.",
    )
    @idempotent
    @raises(CheckoutNotFound, InvalidTransition, PaymentProviderError)
    def post(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        checkout = services.checkout_change_cart(checkout=checkout, request=request)
        return self.respond(self.checkout_for(checkout.pk))


class CheckoutCompleteApi(CheckoutApiBase):
    rate_limits = {"POST": ("checkout",)}

    @extend_schema(
        request=None,
        responses={
            200: OrderSerializer,
        },
        summary="After confirming: re-fetch the intent and finalise the order",
    )
    @idempotent
    @raises(
        CheckoutNotFound,
        InvalidTransition,
        PaymentDeclined,
        PaymentIncomplete,
        PaymentProviderError,
    )
    def post(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        order = services.checkout_complete(checkout=checkout, request=request)
        return Response(order_body(order))


class CheckoutOrderApi(CheckoutApiBase):
    rate_limits = {"GET": ("checkout",)}

    @extend_schema(responses={200: OrderSerializer})
    @raises(CheckoutNotFound, OrderNotFound)
    def get(self, request, checkout_id):
        checkout = self.checkout_for(checkout_id)
        return Response(order_body(selectors.order_get_for_checkout(checkout=checkout)))


class OrderListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OrderSerializer(many=True)})
    def get(self, request):
        orders = selectors.order_list_for_user(user=request.user).prefetch_related(
            "lines"
        )
        return Response([order_body(order) for order in orders[:100]])


class OrderDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OrderSerializer})
    @raises(OrderNotFound)
    def get(self, request, number):
        return Response(
            order_body(selectors.order_get_for_user(user=request.user, number=number))
        )


__all__ = ["MoneySerializer"]
