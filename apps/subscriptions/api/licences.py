"""Licence keys: the owner's list, rotate and device release; the verify call.

GET /licences/ lists the signed-in user's keys (masked) with their devices.
POST /licences/{id}/rotate/ revokes the key and answers the new one, once.
POST /licences/{id}/devices/{device}/release/ frees a seat.
POST /licences/verify (service API key) answers for a key on a device.
"""

from typing import TYPE_CHECKING, Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.core import ratelimit
from apps.core.api.schema import raises
from apps.core.api.service_keys import HasServiceAPIKey, ServiceKeyAuthentication
from apps.core.exceptions import InvalidTransition
from apps.subscriptions import selectors
from apps.subscriptions.exceptions import LicenceNotFound, SeatLimitReached
from apps.subscriptions.services import licences as licence_services
from apps.subscriptions.services.licence_verify import licence_verify

if TYPE_CHECKING:
    from apps.accounts.models import User


def _user(request: Any) -> "User":
    return cast("User", request.user)


class LicenceDeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device_id = serializers.CharField()
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()

    class Meta:
        ref_name = "LicenceDevice"


class LicenceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField(source="masked", help_text="Masked after issue.")
    status = serializers.ChoiceField(choices=["active", "suspended", "revoked"])
    plan = serializers.CharField(source="subscription.price.plan.slug")
    subscription = serializers.IntegerField(source="subscription_id")
    seats_allowed = serializers.IntegerField(source="seats")
    seats_used = serializers.SerializerMethodField()
    devices = LicenceDeviceSerializer(source="seated_devices", many=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Licence"

    def get_seats_used(self, obj: Any) -> int:
        return len(obj.seated_devices)


class LicenceListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="licences_list",
        responses={200: LicenceOutputSerializer(many=True)},
        tags=["licences"],
    )
    def get(self, request: Request) -> Response:
        rows = selectors.licence_list_for_user(user=_user(request))
        return Response(LicenceOutputSerializer(rows, many=True).data)


class LicenceRotateApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        key = serializers.CharField(help_text="The full new key, shown only now.")
        status = serializers.CharField()
        replaces = serializers.IntegerField()

        class Meta:
            ref_name = "LicenceRotated"

    @extend_schema(
        operation_id="licences_rotate",
        request=None,
        responses={201: OutputSerializer},
        tags=["licences"],
        description="The old key stops working at once.",
    )
    @raises(LicenceNotFound, InvalidTransition)
    def post(self, request: Request, licence_id: int) -> Response:
        issued = licence_services.licence_rotate(
            user=_user(request), licence_id=licence_id
        )
        data = {
            "id": issued.licence.pk,
            "key": issued.key,
            "status": issued.licence.status,
            "replaces": licence_id,
        }
        return Response(
            self.OutputSerializer(data).data, status=status.HTTP_201_CREATED
        )


class LicenceDeviceReleaseApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="licences_device_release",
        request=None,
        responses={204: None},
        tags=["licences"],
    )
    @raises(LicenceNotFound)
    def post(self, request: Request, licence_id: int, device_id: int) -> Response:
        licence_services.licence_device_release(
            user=_user(request), licence_id=licence_id, device_pk=device_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ServiceKeyRateThrottle(BaseThrottle):
    """Count a view's ``rate_limits`` per calling service key, not per address."""

    def allow_request(self, request: Any, view: Any) -> bool:
        key = getattr(request.auth, "prefix", None)
        for group in getattr(view, "rate_limits", {}).get(request.method, ()):
            used = ratelimit.usage(request, group, key=f"api-key:{key}")
            if used is not None and used.limited:
                raise Throttled(wait=used.time_left, detail=ratelimit.MESSAGE)
        return True


class LicenceVerifyApi(APIView):
    authentication_classes = [ServiceKeyAuthentication]
    permission_classes = [HasServiceAPIKey]
    throttle_classes = [ServiceKeyRateThrottle]
    rate_limits = {"POST": ("licence-verify",)}

    class InputSerializer(serializers.Serializer):
        key = serializers.CharField(max_length=100)
        device_id = serializers.CharField(max_length=200)

        class Meta:
            ref_name = "LicenceVerifyInput"

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=["valid", "suspended", "revoked", "unknown"]
        )
        plan = serializers.CharField(allow_null=True)
        features = serializers.DictField()
        expires_at = serializers.DateTimeField(allow_null=True)
        seats_used = serializers.IntegerField(allow_null=True)
        seats_allowed = serializers.IntegerField(allow_null=True)

        class Meta:
            ref_name = "LicenceVerification"

    @extend_schema(
        operation_id="licences_verify",
        request=InputSerializer,
        responses={200: OutputSerializer},
        tags=["licences"],
        description="For the service that consumes keys. Unknown and revoked "
        "keys answer alike in shape; a new device takes a seat (409 "
        "seat_limit_reached when none is left).",
    )
    @raises(SeatLimitReached)
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        answer = licence_verify(
            key=body.validated_data["key"], device_id=body.validated_data["device_id"]
        )
        return Response(self.OutputSerializer(answer).data)
