"""GET /me/entitlements/: what the signed-in user's plan unlocks right now."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.subscriptions.entitlements import entitlements_for
from apps.subscriptions.usage.selectors import usage_current


class WindowOutputSerializer(serializers.Serializer):
    metric = serializers.CharField()
    window = serializers.ChoiceField(choices=["day", "month"])
    used = serializers.IntegerField()
    limit = serializers.IntegerField(
        allow_null=True, help_text="Null: counted, not limited."
    )
    resets_at = serializers.DateTimeField()


class PlanRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class EntitlementsApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        granted = serializers.BooleanField(
            help_text="False without a subscription, or when it no longer "
            "grants access (canceled, unpaid, past_due after grace)."
        )
        status = serializers.CharField(allow_null=True)
        plan = PlanRefSerializer(allow_null=True)
        features = serializers.DictField(child=serializers.JSONField())
        limits = WindowOutputSerializer(many=True)

        class Meta:
            ref_name = "EntitlementsOutput"

    @extend_schema(
        operation_id="me_entitlements_retrieve",
        responses={200: OutputSerializer},
        tags=["usage"],
    )
    def get(self, request: Request) -> Response:
        ent = entitlements_for(request.user)
        data: dict[str, Any] = {
            "granted": ent.granted,
            "status": ent.status,
            "plan": {"slug": ent.plan_slug, "name": ent.plan_name}
            if ent.plan_slug
            else None,
            "features": ent.features,
            "limits": usage_current(user=request.user, entitlements=ent),
        }
        return Response(self.OutputSerializer(data).data)
