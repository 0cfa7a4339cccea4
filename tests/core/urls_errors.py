"""Throwaway API views that raise each kind of error, for the handler tests."""

from django.core.exceptions import PermissionDenied
from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import exceptions
from apps.core.audit import audit_log
from apps.core.idempotency import idempotent


class _Input(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1)


class RaiseApi(APIView):
    permission_classes = [AllowAny]
    errors = {
        "not_found": exceptions.NotFound("No such cart."),
        "forbidden": exceptions.PermissionDenied("Staff only."),
        "conflict": exceptions.InvalidTransition("Cannot pay a cancelled order."),
        "rule": exceptions.ApplicationError(
            "Coupon has expired.", code="coupon_expired"
        ),
        "payment": exceptions.PaymentRequired("Your card was declined."),
    }

    def get(self, request, kind):
        if kind == "crash":
            raise RuntimeError("secret internal detail")
        raise self.errors[kind]

    def post(self, request, kind):
        _Input(data=request.data).is_valid(raise_exception=True)
        return Response({"ok": True})


class PrivateApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


class ThrottledApi(APIView):
    permission_classes = [AllowAny]
    rate_limits = {"POST": ("coupon",)}  # the test sets its rate

    def post(self, request):
        return Response({"ok": True})


class CreateThingApi(APIView):
    """Creates one audit row per real execution, so replays are countable."""

    permission_classes = [AllowAny]

    @idempotent
    def post(self, request):
        row = audit_log(action="thing_created", request=request, data=request.data)
        return Response({"id": row.pk, "echo": request.data}, status=201)


def forbidden_page(request):
    raise PermissionDenied


def crashing_page(request):
    raise RuntimeError("secret internal detail")


handler403 = "apps.core.views.permission_denied"
handler500 = "apps.core.views.server_error"

urlpatterns = [
    path("forbidden/", forbidden_page),
    path("crash/", crashing_page),
    path(
        "api/v1/",
        include(
            [
                path("raise/<str:kind>/", RaiseApi.as_view()),
                path("private/", PrivateApi.as_view()),
                path("throttled/", ThrottledApi.as_view()),
                path("things/", CreateThingApi.as_view()),
            ]
        ),
    ),
    # The shop's own routes, so the error pages' layout can reverse its links.
    path("", include("config.urls")),
]
