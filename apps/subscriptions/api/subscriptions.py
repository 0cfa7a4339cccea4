"""Subscriptions API for mobile clients and browser JS (signed in only).

POST /subscriptions/ {price, coupon?} starts a subscription and returns the
secret to confirm (a PaymentIntent's, or a SetupIntent's for a trial);
GET /subscriptions/ and /subscriptions/{id}/ read the user's own (another
user's id answers 404).
"""

from typing import TYPE_CHECKING, Any, cast

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.billing.exceptions import PaymentProviderError
from apps.billing.gateway import subscriptions as gateway_subscriptions
from apps.core.api.schema import raises
from apps.core.api.serializers import MoneySerializer
from apps.core.exceptions import ValidationFailed
from apps.core.idempotency import idempotent
from apps.coupons.exceptions import CouponNotApplicable, CouponNotFound
from apps.subscriptions import selectors, services
from apps.subscriptions.exceptions import (
    AlreadySubscribed,
    PlanChangeInvalid,
    PlanChangeNotAllowed,
    PlanPrivate,
    PriceInactive,
    PriceNotFound,
    SubscriptionCurrencyMismatch,
    SubscriptionNotCancellable,
    SubscriptionNotFound,
    SubscriptionNotResumable,
    SubscriptionPending,
)

if TYPE_CHECKING:
    from apps.accounts.models import User

from apps.core.money import money_api
from apps.subscriptions.models import (
    ScheduledChange,
    Subscription,
    SubscriptionStatus,
)


def _user(request: Any) -> "User":
    # Login is required on every view that calls this.
    return cast("User", request.user)


class ScheduledChangeOutputSerializer(serializers.Serializer):
    plan = serializers.CharField(source="to_price.plan.slug")
    plan_name = serializers.CharField(source="to_price.plan.name")
    price = serializers.IntegerField(source="to_price_id")
    effective_at = serializers.DateTimeField(source="due_at")


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan = serializers.CharField(source="price.plan.slug")
    plan_name = serializers.CharField(source="price.plan.name")
    price = serializers.IntegerField(source="price_id")
    amount = serializers.SerializerMethodField()
    interval = serializers.CharField(source="price.interval")
    status = serializers.ChoiceField(choices=SubscriptionStatus.choices)
    current_period_start = serializers.DateTimeField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    trial_end = serializers.DateTimeField(allow_null=True)
    payment_method = serializers.CharField(source="payment_method_label")
    scheduled_change = serializers.SerializerMethodField()

    @extend_schema_field(MoneySerializer)
    def get_amount(self, obj: Subscription) -> dict[str, Any]:
        return money_api(obj.price.amount_minor, obj.price.currency)

    @extend_schema_field(ScheduledChangeOutputSerializer(allow_null=True))
    def get_scheduled_change(self, obj: Subscription) -> dict[str, Any] | None:
        # Prefetched by the selectors; a row from a service has none loaded.
        pending = getattr(obj, "pending_changes", None)
        if pending is None:
            pending = list(
                obj.scheduled_changes.filter(
                    status=ScheduledChange.Status.PENDING
                ).select_related("to_price__plan")
            )
        if not pending:
            return None
        return dict(ScheduledChangeOutputSerializer(pending[0]).data)


class SubscriptionCollectionApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        price = serializers.IntegerField(min_value=1)
        coupon = serializers.CharField(required=False, allow_blank=True)

        class Meta:
            ref_name = "SubscriptionCreateInput"

    class StartOutputSerializer(serializers.Serializer):
        subscription = SubscriptionOutputSerializer()
        client_secret = serializers.CharField(
            help_text="Confirm with Stripe.js / the mobile SDK; empty when "
            "nothing is left to confirm."
        )
        kind = serializers.ChoiceField(
            choices=["payment_intent", "setup_intent", ""],
            help_text="Which confirm call the secret is for.",
        )
        publishable_key = serializers.CharField()
        amount_due = MoneySerializer(
            allow_null=True,
            help_text="What the first invoice charges, after any coupon; null "
            "for a trial (nothing is charged now).",
        )

    @extend_schema(
        operation_id="subscriptions_list",
        responses={200: SubscriptionOutputSerializer(many=True)},
        tags=["subscriptions"],
    )
    def get(self, request: Request) -> Response:
        subs = selectors.subscription_list_for_user(user=_user(request))[:50]
        return Response(SubscriptionOutputSerializer(subs, many=True).data)

    @extend_schema(
        operation_id="subscriptions_create",
        request=InputSerializer,
        responses={201: StartOutputSerializer},
        tags=["subscriptions"],
    )
    @idempotent
    @raises(
        PriceNotFound,
        PriceInactive,
        PlanPrivate,
        SubscriptionCurrencyMismatch,
        CouponNotFound,
        CouponNotApplicable,
        AlreadySubscribed,
        SubscriptionPending,
        PaymentProviderError,
    )
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        start = services.subscription_create(
            user=_user(request),
            price_id=body.validated_data["price"],
            coupon=body.validated_data.get("coupon") or None,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        data = {
            "subscription": start.subscription,
            "client_secret": start.client_secret,
            "kind": start.kind,
            "publishable_key": gateway_subscriptions.publishable_key(),
            "amount_due": (
                None
                if start.amount_due_minor is None or start.kind != "payment_intent"
                else money_api(
                    start.amount_due_minor, start.subscription.price.currency
                )
            ),
        }
        return Response(
            self.StartOutputSerializer(data).data, status=status.HTTP_201_CREATED
        )


class SubscriptionDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="subscriptions_retrieve",
        responses={200: SubscriptionOutputSerializer},
        tags=["subscriptions"],
    )
    @raises(SubscriptionNotFound)
    def get(self, request: Request, subscription_id: int) -> Response:
        sub = selectors.subscription_get_for_user(
            user=_user(request), subscription_id=subscription_id
        )
        return Response(SubscriptionOutputSerializer(sub).data)


class SubscriptionCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        at_period_end = serializers.BooleanField(default=True)

        class Meta:
            ref_name = "SubscriptionCancelInput"

    @extend_schema(
        operation_id="subscriptions_cancel",
        request=InputSerializer,
        responses={200: SubscriptionOutputSerializer},
        tags=["subscriptions"],
        description="At the period end (default; resumable until then) or now "
        "(final, nothing refunded).",
    )
    @idempotent
    @raises(SubscriptionNotFound, SubscriptionNotCancellable, PaymentProviderError)
    def post(self, request: Request, subscription_id: int) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sub = services.subscription_cancel(
            user=_user(request),
            subscription_id=subscription_id,
            at_period_end=body.validated_data["at_period_end"],
        )
        return Response(SubscriptionOutputSerializer(sub).data)


class SubscriptionResumeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="subscriptions_resume",
        request=None,
        responses={200: SubscriptionOutputSerializer},
        tags=["subscriptions"],
    )
    @idempotent
    @raises(SubscriptionNotFound, SubscriptionNotResumable, PaymentProviderError)
    def post(self, request: Request, subscription_id: int) -> Response:
        sub = services.subscription_resume(
            user=_user(request), subscription_id=subscription_id
        )
        return Response(SubscriptionOutputSerializer(sub).data)


class ChangePreviewOutputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["upgrade", "downgrade"])
    amount_due = serializers.SerializerMethodField()
    effective_at = serializers.DateTimeField(allow_null=True)
    proration_date = serializers.IntegerField(
        allow_null=True,
        help_text="An upgrade's proration time (Unix seconds). Send it with the "
        "change, within 30 minutes, to be charged exactly amount_due.",
    )

    @extend_schema_field(MoneySerializer)
    def get_amount_due(self, obj: Any) -> dict[str, Any]:
        return money_api(obj.amount_due_minor, obj.currency)


class SubscriptionChangePreviewApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        price = serializers.IntegerField(min_value=1)

        class Meta:
            ref_name = "SubscriptionChangePreviewInput"

    @extend_schema(
        operation_id="subscriptions_change_preview",
        parameters=[InputSerializer],
        responses={200: ChangePreviewOutputSerializer},
        tags=["subscriptions"],
        description="An upgrade's amount due now comes from Stripe's upcoming "
        "invoice; a downgrade costs nothing now and applies at the period end.",
    )
    @raises(
        ValidationFailed,  # the price query parameter is missing or not a number
        SubscriptionNotFound,
        PlanChangeInvalid,
        PlanChangeNotAllowed,
        PriceNotFound,
        PriceInactive,
        PlanPrivate,
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        preview = services.subscription_change_preview(
            user=_user(request),
            subscription_id=subscription_id,
            price_id=params.validated_data["price"],
        )
        return Response(ChangePreviewOutputSerializer(preview).data)


class SubscriptionChangeApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        price = serializers.IntegerField(min_value=1)
        proration_date = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=2**53,
            help_text="The change preview's proration_date: the upgrade is "
            "then charged the previewed amount (else prorated from now).",
        )

        class Meta:
            ref_name = "SubscriptionChangeInput"

    class OutputSerializer(serializers.Serializer):
        subscription = SubscriptionOutputSerializer()
        scheduled_for = serializers.DateTimeField(
            allow_null=True, help_text="Set when the change waits for the period end."
        )

        class Meta:
            ref_name = "SubscriptionChangeOutput"

    @extend_schema(
        operation_id="subscriptions_change",
        request=InputSerializer,
        responses={200: OutputSerializer},
        tags=["subscriptions"],
    )
    @idempotent
    @raises(
        SubscriptionNotFound,
        PlanChangeInvalid,
        PlanChangeNotAllowed,
        PriceNotFound,
        PriceInactive,
        PlanPrivate,
        PaymentProviderError,
    )
    def post(self, request: Request, subscription_id: int) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.subscription_change(
            user=_user(request),
            subscription_id=subscription_id,
            price_id=body.validated_data["price"],
            proration_date=body.validated_data.get("proration_date"),
        )
        if isinstance(result, ScheduledChange):
            data = {"subscription": result.subscription, "scheduled_for": result.due_at}
        else:
            data = {"subscription": result, "scheduled_for": None}
        return Response(self.OutputSerializer(data).data)
