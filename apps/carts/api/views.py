"""Cart API: usable anonymously. An anonymous cart's id (returned at creation)
is the bearer of that cart; a signed-in user's cart answers only to that user,
everyone else gets 404.

Writes accept the cart version (``version`` in the body or an ``If-Match``
header); a stale one gets 409 ``cart_version_conflict`` with the current cart
in ``details.cart``. Responses carry the version as an ``ETag``.

Merging: after signing in, the app calls ``POST /carts/{guest id}/merge/``;
the guest cart is merged into the user's open cart (or adopted when there is
none) and the response is the user's cart with notices of anything capped or
dropped.

Retries are safe: the POSTs (create, add a line, apply a coupon, merge) honour
an ``Idempotency-Key`` header (apps.core.idempotency): the same key and body
replay the first response, the same key with another body is 422
``idempotency_key_reused``. Keys are scoped to the signed-in user, else to the
cart in the URL (an anonymous create: to the client address).
"""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.carts import selectors, services
from apps.carts.api.serializers import CartSerializer, cart_body
from apps.carts.exceptions import (
    CartCurrencyMismatch,
    CartLineLimitReached,
    CartLineNotFound,
    CartLocked,
    CartNotFound,
    CartNotOpen,
    CartVersionConflict,
    InsufficientStock,
)
from apps.core.api.exception_handler import error_body
from apps.core.api.schema import raises
from apps.core.idempotency import idempotent
from apps.coupons.exceptions import CouponNotApplicable, CouponNotFound
from apps.inventory.exceptions import (
    InvalidQuantity,
    QuantityLimitExceeded,
    VariantUnavailable,
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The cart version you last saw; a stale one answers 409.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Replay-safe retries: the same key and body replay the first "
    "response; another body with the key is 422 idempotency_key_reused.",
)


class CartApiBase(APIView):
    permission_classes = [AllowAny]

    def cart_for(self, cart_id):
        return selectors.cart_get(cart_id=cart_id, user=self.request.user)

    def expected_version(self, data=None) -> int | None:
        raw = (data or {}).get("version")
        if raw is None:
            header = self.request.headers.get("If-Match", "").strip()
            if not header or header == "*":
                return None
            raw = header.removeprefix("W/").strip('"')
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise serializers.ValidationError(
                {"version": ["Send the cart version as an integer."]}
            ) from None

    def finalize_response(self, request, response, *args, **kwargs):
        # A replayed Idempotency-Key response is rebuilt from its stored body
        # only; give it the ETag the first response carried.
        data = getattr(response, "data", None)
        if (
            "ETag" not in response
            and 200 <= response.status_code < 300
            and isinstance(data, dict)
            and "version" in data
        ):
            response["ETag"] = f'"{data["version"]}"'
        return super().finalize_response(request, response, *args, **kwargs)

    def respond(self, cart, *, status=200, notices=()) -> Response:
        view = selectors.cart_view(cart=cart, user=self.request.user, notices=notices)
        response = Response(cart_body(view), status=status)
        response["ETag"] = f'"{view.version}"'
        return response

    def write(self, cart, fn, **kwargs) -> Response:
        """Run one cart service; a version conflict carries the current cart."""
        try:
            cart = fn(cart=cart, **kwargs)
        except CartVersionConflict as exc:
            current = selectors.cart_view(
                cart=self.cart_for(cart.pk), user=self.request.user
            )
            body = error_body(exc.code, exc.message, {"cart": cart_body(current)})
            return Response(body, status=exc.status_code)
        return self.respond(cart)


class VersionField(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            min_value=1,
            help_text="Optional: the cart version you last saw.",
            **kwargs,
        )


class CartCreateApi(CartApiBase):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CartCreateInput"

        currency = serializers.RegexField(
            r"^[A-Za-z]{3}\Z",
            required=False,
            help_text="ISO 4217 code, three letters (default: the shop's).",
            error_messages={"invalid": "Send a three-letter ISO currency code."},
        )

        def validate_currency(self, value: str) -> str:
            value = value.upper()
            accepted = settings.CART_CURRENCIES
            if value not in accepted:
                raise serializers.ValidationError(
                    f"This shop sells in {', '.join(accepted)}.",
                    code="currency_not_supported",
                )
            return value

    @extend_schema(
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: CartSerializer, 200: CartSerializer},
        summary="Create a cart (a signed-in user gets their open cart back)",
    )
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart, created = services.cart_create(
            user=request.user, currency=data.validated_data.get("currency")
        )
        return self.respond(cart, status=201 if created else 200)


class CartDetailApi(CartApiBase):
    @extend_schema(responses={200: CartSerializer})
    @raises(CartNotFound)
    def get(self, request, cart_id):
        return self.respond(self.cart_for(cart_id))


class CartLineAddApi(CartApiBase):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CartLineAddInput"

        sku = serializers.CharField(max_length=64)
        quantity = serializers.IntegerField(default=1)
        version = VersionField()

    @extend_schema(
        request=InputSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY],
        responses={200: CartSerializer},
        summary="Add units of a SKU (merged into an existing line)",
    )
    @idempotent
    @raises(
        CartNotFound,
        CartVersionConflict,
        CartLocked,
        CartNotOpen,
        VariantUnavailable,
        InvalidQuantity,
        QuantityLimitExceeded,
        InsufficientStock,
        CartCurrencyMismatch,
        CartLineLimitReached,
    )
    def post(self, request, cart_id):
        cart = self.cart_for(cart_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.write(
            cart,
            services.cart_line_add,
            sku=data.validated_data["sku"],
            quantity=data.validated_data["quantity"],
            expected_version=self.expected_version(data.validated_data),
        )


class CartLineUpdateApi(CartApiBase):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CartLineUpdateInput"

        quantity = serializers.IntegerField(help_text="0 removes the line.")
        version = VersionField()

    class DeleteInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CartLineDeleteInput"

        version = VersionField()

    @extend_schema(
        request=InputSerializer,
        parameters=[IF_MATCH],
        responses={200: CartSerializer},
        summary="Set a line's quantity",
    )
    @raises(
        CartNotFound,
        CartVersionConflict,
        CartLocked,
        CartNotOpen,
        CartLineNotFound,
        VariantUnavailable,
        InvalidQuantity,
        QuantityLimitExceeded,
        InsufficientStock,
    )
    def patch(self, request, cart_id, line_id):
        cart = self.cart_for(cart_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.write(
            cart,
            services.cart_line_set_quantity,
            line_id=line_id,
            quantity=data.validated_data["quantity"],
            expected_version=self.expected_version(data.validated_data),
        )

    @extend_schema(
        request=None,
        parameters=[IF_MATCH],
        responses={200: CartSerializer},
        summary="Remove a line",
    )
    @raises(
        CartNotFound, CartVersionConflict, CartLocked, CartNotOpen, CartLineNotFound
    )
    def delete(self, request, cart_id, line_id):
        cart = self.cart_for(cart_id)
        data = self.DeleteInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        return self.write(
            cart,
            services.cart_line_remove,
            line_id=line_id,
            expected_version=self.expected_version(data.validated_data),
        )


class CartCouponApplyApi(CartApiBase):
    rate_limits = {"POST": ("coupon",)}

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CartCouponApplyInput"

        code = serializers.CharField(max_length=64)
        version = VersionField()

    @extend_schema(
        request=InputSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY],
        responses={
            200: CartSerializer,
        },
        summary="Apply a coupon code (checked now, counted when ordering)",
    )
    @idempotent
    @raises(
        CartNotFound,
        CartVersionConflict,
        CartLocked,
        CartNotOpen,
        CouponNotFound,
        CouponNotApplicable,
    )
    def post(self, request, cart_id):
        cart = self.cart_for(cart_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.write(
            cart,
            services.cart_coupon_apply,
            code=data.validated_data["code"],
            user=request.user,
            expected_version=self.expected_version(data.validated_data),
        )


class CartCouponRemoveApi(CartApiBase):
    @extend_schema(
        request=None,
        parameters=[IF_MATCH],
        responses={200: CartSerializer},
        summary="Remove a coupon from the cart",
    )
    @raises(CartNotFound, CartVersionConflict, CartLocked, CartNotOpen, CouponNotFound)
    def delete(self, request, cart_id, code):
        cart = self.cart_for(cart_id)
        return self.write(
            cart,
            services.cart_coupon_remove,
            code=code,
            expected_version=self.expected_version(),
        )


class CartMergeApi(CartApiBase):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: CartSerializer},
        summary="Merge a guest cart into the signed-in user's cart",
        description=(
            "Quantities are added, capped by availability and per-order limits; "
            "unavailable items are dropped and coupons kept if still valid. "
            "`notices` lists what was capped or dropped. The guest cart is gone "
            "afterwards; use the returned id."
        ),
    )
    @idempotent
    @raises(CartNotFound, CartNotOpen)
    def post(self, request, cart_id):
        source = self.cart_for(cart_id)
        result = services.cart_merge(source=source, user=request.user)
        return self.respond(result.cart, notices=result.notices)
