"""The guest purchase: an email and a price, no account (the VPN flow).

POST /subscribe/guest/ starts it and returns the secret to confirm;
POST /subscribe/guest/{flow}/confirm/ tells the shop the visitor confirmed;
GET /subscribe/guest/{flow}/ reads where it stands. The answers never say
whether the email has an account.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.billing.exceptions import PaymentProviderError
from apps.billing.gateway import subscriptions as gateway_subscriptions
from apps.core.api.schema import raises
from apps.subscriptions.exceptions import (
    PlanPrivate,
    PriceInactive,
    PriceNotFound,
    SubscribeFlowNotFound,
)
from apps.subscriptions.services import guest_flow


class FlowOutputSerializer(serializers.Serializer):
    flow = serializers.UUIDField(source="token")
    status = serializers.ChoiceField(
        choices=["awaiting_payment", "processing", "completed", "failed"]
    )
    current_step = serializers.CharField()

    class Meta:
        ref_name = "SubscribeFlow"


class GuestSubscribeApi(APIView):
    # Anyone may buy; no session, so no CSRF token to fetch first.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    rate_limits = {"POST": ("subscribe-guest",)}

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        price = serializers.IntegerField()

        class Meta:
            ref_name = "GuestSubscribeInput"

    class OutputSerializer(serializers.Serializer):
        flow = serializers.UUIDField()
        status = serializers.CharField()
        client_secret = serializers.CharField(
            help_text="Confirm with Stripe.js or a mobile SDK, then call confirm/."
        )
        kind = serializers.CharField(
            help_text="payment_intent, setup_intent (a trial) or empty."
        )
        publishable_key = serializers.CharField()

        class Meta:
            ref_name = "GuestSubscribeStart"

    @extend_schema(
        operation_id="subscribe_guest_create",
        request=InputSerializer,
        responses={201: OutputSerializer},
        tags=["subscriptions"],
    )
    @raises(PriceNotFound, PriceInactive, PlanPrivate, PaymentProviderError)
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        start = guest_flow.subscribe_flow_start(
            email=body.validated_data["email"], price_id=body.validated_data["price"]
        )
        data = {
            "flow": start.flow.token,
            "status": start.flow.status,
            "client_secret": start.client_secret,
            "kind": start.kind,
            "publishable_key": gateway_subscriptions.publishable_key(),
        }
        return Response(
            self.OutputSerializer(data).data, status=status.HTTP_201_CREATED
        )


class GuestFlowDetailApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="subscribe_guest_retrieve",
        responses={200: FlowOutputSerializer},
        tags=["subscriptions"],
    )
    @raises(SubscribeFlowNotFound)
    def get(self, request: Request, token: str) -> Response:
        flow = guest_flow.subscribe_flow_get(token=token)
        return Response(FlowOutputSerializer(flow).data)


class GuestFlowConfirmApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="subscribe_guest_confirm",
        request=None,
        responses={200: FlowOutputSerializer},
        tags=["subscriptions"],
        description="Call after confirming the payment; the shop asks Stripe.",
    )
    @raises(SubscribeFlowNotFound, PaymentProviderError)
    def post(self, request: Request, token: str) -> Response:
        flow = guest_flow.subscribe_flow_payment_check(token=token)
        return Response(FlowOutputSerializer(flow).data)
