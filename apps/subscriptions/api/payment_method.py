"""A subscription's card, for mobile clients and browser JS (signed in only).

POST /subscriptions/{id}/payment-method/ returns a SetupIntent's secret; the
client confirms it with the Stripe SDK (3-D Secure included), then POSTs
/subscriptions/{id}/payment-method/confirm/ {setup_intent}, which reads the
outcome from Stripe and makes the card the subscription's default.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.billing.exceptions import PaymentProviderError
from apps.billing.gateway import subscriptions as gateway_subscriptions
from apps.core.api.schema import raises
from apps.core.idempotency import idempotent
from apps.subscriptions.api.subscriptions import SubscriptionOutputSerializer, _user
from apps.subscriptions.exceptions import (
    PaymentMethodNotConfirmed,
    PaymentMethodNotUpdatable,
    SetupIntentNotFound,
    SubscriptionNotFound,
)
from apps.subscriptions.services import payment_method as card_services


class SubscriptionPaymentMethodSetupApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        setup_intent = serializers.CharField(source="setup_intent_id")
        client_secret = serializers.CharField(
            help_text="Confirm with Stripe.js confirmCardSetup / the mobile SDK."
        )
        kind = serializers.ChoiceField(choices=["setup_intent"])
        publishable_key = serializers.CharField()

        class Meta:
            ref_name = "SubscriptionPaymentMethodSetupOutput"

    @extend_schema(
        operation_id="subscriptions_payment_method_setup",
        request=None,
        responses={201: OutputSerializer},
        tags=["subscriptions"],
        description="Start a card update: a SetupIntent for the subscriber's "
        "Stripe customer. Nothing changes until it is confirmed.",
    )
    @idempotent
    @raises(SubscriptionNotFound, PaymentMethodNotUpdatable, PaymentProviderError)
    def post(self, request: Request, subscription_id: int) -> Response:
        setup = card_services.subscription_payment_method_setup(
            user=_user(request),
            subscription_id=subscription_id,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        data = {
            "setup_intent_id": setup.setup_intent_id,
            "client_secret": setup.client_secret,
            "kind": "setup_intent",
            "publishable_key": gateway_subscriptions.publishable_key(),
        }
        return Response(
            self.OutputSerializer(data).data, status=status.HTTP_201_CREATED
        )


class SubscriptionPaymentMethodConfirmApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        setup_intent = serializers.RegexField(r"^seti_\w+$", max_length=255)

        class Meta:
            ref_name = "SubscriptionPaymentMethodConfirmInput"

    @extend_schema(
        operation_id="subscriptions_payment_method_confirm",
        request=InputSerializer,
        responses={200: SubscriptionOutputSerializer},
        tags=["subscriptions"],
        description="After the client confirmed the SetupIntent: its card "
        "becomes the subscription's default. A repeat changes nothing.",
    )
    @idempotent
    @raises(
        SubscriptionNotFound,
        PaymentMethodNotUpdatable,
        SetupIntentNotFound,
        PaymentMethodNotConfirmed,
        PaymentProviderError,
    )
    def post(self, request: Request, subscription_id: int) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sub = card_services.subscription_payment_method_confirm(
            user=_user(request),
            subscription_id=subscription_id,
            setup_intent_id=body.validated_data["setup_intent"],
        )
        return Response(SubscriptionOutputSerializer(sub).data)
