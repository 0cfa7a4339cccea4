"""Plans API: public, read-only, served from the cached catalogue.

GET /plans/ lists public plans; GET /plans/{slug}/ also reaches private plans
(enterprise deals by direct link); GET /plans/compare/?plans=a,b gives a
feature matrix (an unknown slug answers 400 unknown_plan).
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schema import raises
from apps.core.api.serializers import MoneySerializer
from apps.core.exceptions import ValidationFailed
from apps.core.money import money_api
from apps.subscriptions import selectors
from apps.subscriptions.exceptions import PlanNotFound, UnknownPlans


class PriceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    interval = serializers.ChoiceField(choices=["day", "week", "month", "year"])
    interval_count = serializers.IntegerField()
    amount = serializers.SerializerMethodField()

    @extend_schema_field(MoneySerializer)
    def get_amount(self, obj: dict[str, Any]) -> dict[str, Any]:
        return money_api(obj["amount_minor"], obj["currency"])


class FeatureOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # the field pops off the class
    kind = serializers.ChoiceField(choices=["boolean", "number", "text"])
    unit = serializers.CharField()
    description = serializers.CharField()


class PlanOutputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    public = serializers.BooleanField()
    trial_days = serializers.IntegerField()
    features = serializers.DictField(help_text="Feature key to value.")
    limits = serializers.DictField(
        help_text='Metric to {"per_day": n|null, "per_month": n|null}.'
    )
    prices = PriceOutputSerializer(many=True)
    yearly_saving_percent = serializers.IntegerField()


class CompareRowOutputSerializer(serializers.Serializer):
    feature = FeatureOutputSerializer()
    values = serializers.ListField(
        child=serializers.JSONField(allow_null=True),
        help_text="One value per plan, in the order asked; null when not set.",
    )


class PlanListApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="plans_list",
        responses={200: PlanOutputSerializer(many=True)},
        tags=["plans"],
    )
    def get(self, request: Request) -> Response:
        plans = selectors.plans_public()
        return Response(PlanOutputSerializer(plans, many=True).data)


class PlanDetailApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="plans_retrieve",
        responses={200: PlanOutputSerializer},
        tags=["plans"],
    )
    @raises(PlanNotFound)
    def get(self, request: Request, slug: str) -> Response:
        plan = selectors.plan_get_by_slug(slug=slug)
        return Response(PlanOutputSerializer(plan).data)


class PlanCompareApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        plans = serializers.CharField(help_text="Comma-separated plan slugs.")

        class Meta:
            ref_name = "PlanCompareInput"

    class OutputSerializer(serializers.Serializer):
        plans = PlanOutputSerializer(many=True)
        rows = CompareRowOutputSerializer(many=True)

        class Meta:
            ref_name = "PlanCompareOutput"

    @extend_schema(
        operation_id="plans_compare",
        parameters=[
            OpenApiParameter(
                "plans", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True
            )
        ],
        responses={200: OutputSerializer},
        tags=["plans"],
    )
    @raises(ValidationFailed, UnknownPlans)
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        slugs = [
            s.strip() for s in params.validated_data["plans"].split(",") if s.strip()
        ]
        matrix = selectors.plans_compare(slugs=slugs)
        return Response(self.OutputSerializer(matrix).data)
