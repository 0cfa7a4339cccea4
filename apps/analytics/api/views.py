"""Staff API over the stored analytics rows (403 for anyone not staff)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.analytics import selectors
from apps.analytics.exceptions import AnalyticsPlanNotFound, StaffOnly
from apps.analytics.models import CohortMonth, DailyMetrics
from apps.core.api.schema import raises
from apps.core.exceptions import ValidationFailed


class RangeInputSerializer(serializers.Serializer):
    """``from`` and ``to`` (inclusive, default the last 30 days) and a currency."""

    to = serializers.DateField(required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    plan = serializers.SlugField(required=False, help_text="Movements only.")

    class Meta:
        ref_name = "AnalyticsRangeInput"

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # "from" is a Python keyword, so it cannot be a class attribute.
        fields["from"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or timezone.now().date() - dt.timedelta(days=1)
        start = attrs.get("from") or end - dt.timedelta(days=29)
        if start > end:
            raise serializers.ValidationError({"from": "Must not be after 'to'."})
        if (end - start).days > 3660:
            raise serializers.ValidationError({"from": "At most ten years."})
        return {**attrs, "from": start, "to": end}


def _range(request: Request) -> dict[str, Any]:
    params = RangeInputSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


class MetricsOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DailyMetrics
        exclude = ["id"]
        ref_name = "AnalyticsDailyMetrics"


class MovementDayOutputSerializer(serializers.Serializer):
    day = serializers.DateField()
    currency = serializers.CharField()
    new_minor = serializers.IntegerField()
    reactivation_minor = serializers.IntegerField()
    expansion_minor = serializers.IntegerField()
    contraction_minor = serializers.IntegerField()
    churn_minor = serializers.IntegerField()
    net_minor = serializers.IntegerField()

    class Meta:
        ref_name = "AnalyticsMovementDay"


class CohortOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CohortMonth
        exclude = ["id"]
        ref_name = "AnalyticsCohortMonth"


class PlanAnalyticsOutputSerializer(serializers.Serializer):
    plan = serializers.CharField()
    day = serializers.DateField(allow_null=True, help_text="The day measured.")
    subscribers_by_status = serializers.DictField(child=serializers.IntegerField())
    mrr = serializers.DictField(
        child=serializers.IntegerField(), help_text="Currency to MRR in minor units."
    )
    new_this_month = serializers.IntegerField()
    churned_this_month = serializers.IntegerField()
    average_lifetime_days = serializers.IntegerField(allow_null=True)
    limits = serializers.DictField()

    class Meta:
        ref_name = "AnalyticsPlan"


class StaffApi(APIView):
    permission_classes = [IsAdminUser]


class AnalyticsMetricsApi(StaffApi):
    @extend_schema(
        operation_id="analytics_metrics",
        parameters=[RangeInputSerializer],
        responses={200: MetricsOutputSerializer(many=True)},
        tags=["analytics"],
    )
    @raises(StaffOnly, ValidationFailed)
    def get(self, request: Request) -> Response:
        r = _range(request)
        rows = selectors.metrics_list(
            start=r["from"], end=r["to"], currency=r.get("currency")
        )
        return Response(MetricsOutputSerializer(rows, many=True).data)


class AnalyticsMovementsApi(StaffApi):
    @extend_schema(
        operation_id="analytics_movements",
        parameters=[RangeInputSerializer],
        responses={200: MovementDayOutputSerializer(many=True)},
        tags=["analytics"],
    )
    @raises(StaffOnly, ValidationFailed)
    def get(self, request: Request) -> Response:
        r = _range(request)
        rows = selectors.movements_by_day(
            start=r["from"],
            end=r["to"],
            currency=r.get("currency"),
            plan=r.get("plan", ""),
        )
        return Response(MovementDayOutputSerializer(rows, many=True).data)


class AnalyticsCohortsApi(StaffApi):
    @extend_schema(
        operation_id="analytics_cohorts",
        parameters=[RangeInputSerializer],
        responses={200: CohortOutputSerializer(many=True)},
        tags=["analytics"],
    )
    @raises(StaffOnly, ValidationFailed)
    def get(self, request: Request) -> Response:
        r = _range(request)
        rows = selectors.cohorts_list(currency=r.get("currency"))
        return Response(CohortOutputSerializer(rows, many=True).data)


class PlanAnalyticsApi(StaffApi):
    @extend_schema(
        operation_id="plans_analytics",
        responses={200: PlanAnalyticsOutputSerializer},
        tags=["plans", "analytics"],
    )
    @raises(StaffOnly, AnalyticsPlanNotFound)
    def get(self, request: Request, slug: str) -> Response:
        figures = selectors.plan_analytics(slug=slug)
        return Response(PlanAnalyticsOutputSerializer(figures).data)
