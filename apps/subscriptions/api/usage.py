"""Usage API: record usage (the user's client, or a service in batches), read
the current windows and the daily history."""

import re
from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from apps.core.api.exception_handler import error_body
from apps.core.api.schema import raises
from apps.core.api.service_keys import HasServiceAPIKey, ServiceKeyAuthentication
from apps.core.exceptions import ValidationFailed
from apps.subscriptions.api.entitlements import WindowOutputSerializer
from apps.subscriptions.exceptions import MetricNotInPlan, UsageLimitExceeded
from apps.subscriptions.usage import record
from apps.subscriptions.usage.selectors import (
    history_bounds,
    usage_current,
    usage_history,
)

BATCH_MAX = 1000

# What the input serializers accept without changing it. Ingest is the API's
# hottest path (issue 14) and a DRF serializer costs more per event than the
# recording: an event of exactly this shape is taken as it is, anything else
# goes through the serializer, which normalises it or answers the usual 400.
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")
_NOT_IN_CHARFIELD = re.compile("[\x00\ud800-\udfff]")
_DATETIME = serializers.DateTimeField()


def _plain_event(item: Any, *, with_user: bool) -> dict[str, Any] | None:
    """The event as the input serializer would validate it, when it is plainly
    valid; None when only the serializer can tell."""
    if type(item) is not dict:
        return None
    metric, quantity, key = (
        item.get("metric"),
        item.get("quantity"),
        item.get("idempotency_key"),
    )
    if type(metric) is not str or not _SLUG.fullmatch(metric):
        return None
    if type(quantity) is not int or not 1 <= quantity <= 1_000_000:
        return None
    if (
        type(key) is not str
        or not 0 < len(key) <= 255
        or key != key.strip()
        or _NOT_IN_CHARFIELD.search(key)
    ):
        return None
    event = {"metric": metric, "quantity": quantity, "idempotency_key": key}
    if with_user:
        user = item.get("user")
        if type(user) is not int or user < 1:
            return None
        event["user"] = user
    return event


def _window_json(
    metric: str, window: str, used: int, limit: int | None, resets_at: Any
) -> dict[str, Any]:
    """One window as WindowOutputSerializer renders it."""
    return {
        "metric": metric,
        "window": window,
        "used": used,
        "limit": limit,
        "resets_at": _DATETIME.to_representation(resets_at),
    }


class UsageInputSerializer(serializers.Serializer):
    metric = serializers.SlugField(max_length=50)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    idempotency_key = serializers.CharField(max_length=255)

    class Meta:
        ref_name = "UsageInput"


class UsageCollectionApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=["accepted", "duplicate"],
            help_text="duplicate: this idempotency key was recorded before; "
            "nothing more was counted.",
        )
        metric = serializers.CharField()
        usage = WindowOutputSerializer(many=True)

        class Meta:
            ref_name = "UsageRecordOutput"

    @extend_schema(
        operation_id="usage_list",
        responses={200: WindowOutputSerializer(many=True)},
        tags=["usage"],
    )
    def get(self, request: Request) -> Response:
        windows = usage_current(user=request.user)
        return Response(WindowOutputSerializer(windows, many=True).data)

    @extend_schema(
        operation_id="usage_create",
        request=UsageInputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer},
        tags=["usage"],
    )
    @raises(MetricNotInPlan, UsageLimitExceeded)
    def post(self, request: Request) -> Response:
        event = _plain_event(request.data, with_user=False)
        if event is None:
            body = UsageInputSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            event = body.validated_data
        metric = event["metric"]
        try:
            outcome = record.usage_record(user=request.user, **event)
        except UsageLimitExceeded as exc:
            response = Response(
                error_body(exc.code, exc.message, exc.details),
                status=exc.status_code,
            )
            response["Retry-After"] = str(exc.retry_after)
            return response
        accepted = outcome.status == record.ACCEPTED
        windows = (
            [
                _window_json(metric, w.window, w.used, w.limit, w.resets_at)
                for w in outcome.usage
            ]
            if accepted
            else [
                _window_json(metric, w.window, w.used, w.limit, w.resets_at)
                for w in usage_current(user=request.user)
                if w.metric == metric
            ]
        )
        # Rendered as built, like the batch's results; OutputSerializer
        # documents the shape (a test holds the two together).
        return Response(
            {"status": outcome.status, "metric": metric, "usage": windows},
            status=status.HTTP_201_CREATED if accepted else status.HTTP_200_OK,
        )


class UsageBatchEventSerializer(UsageInputSerializer):
    user = serializers.IntegerField(min_value=1, help_text="The user's id.")

    class Meta:
        ref_name = "UsageBatchEvent"


class UsageBatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "refused"])
    code = serializers.CharField(
        help_text="When refused: usage_limit_exceeded, metric_not_in_plan "
        "or user_not_found."
    )
    details = serializers.DictField(child=serializers.JSONField())

    class Meta:
        ref_name = "UsageBatchResult"


class UsageBatchApi(APIView):
    authentication_classes = [ServiceKeyAuthentication]
    permission_classes = [HasServiceAPIKey]

    class InputSerializer(serializers.Serializer):
        events = UsageBatchEventSerializer(  # type: ignore[call-arg]  # ListSerializer takes max_length; the stubs lag
            many=True, allow_empty=False, max_length=BATCH_MAX
        )

        class Meta:
            ref_name = "UsageBatchInput"

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        refused = serializers.IntegerField()
        # Rendered as built (1,000 rows through a serializer cost more than
        # the recording); this serializer documents the shape.
        results = UsageBatchResultSerializer(many=True)

        class Meta:
            ref_name = "UsageBatchOutput"

    @extend_schema(
        operation_id="usage_batch_create",
        request=InputSerializer,
        responses={200: OutputSerializer},
        tags=["usage"],
        description=f"Up to {BATCH_MAX} events, each for a user. Each event is "
        "accepted, a duplicate (its key was recorded before) or refused; the "
        "others are recorded whatever happens to one.",
    )
    def post(self, request: Request) -> Response:
        events = _plain_events(request.data)
        if events is None:
            body = self.InputSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            events = body.validated_data["events"]
        outcomes = record.usage_record_many(
            events=[
                record.UsageInput(
                    e["user"], e["metric"], e["quantity"], e["idempotency_key"]
                )
                for e in events
            ],
            source=f"batch:{cast(APIKey, request.auth).prefix}",
        )
        return Response(_batch_summary(outcomes))


def _plain_events(data: Any) -> list[dict[str, Any]] | None:
    """The batch's events when every one is plainly valid (see _plain_event)."""
    items = data.get("events") if type(data) is dict else None
    if type(items) is not list or not 0 < len(items) <= BATCH_MAX:
        return None
    events = []
    for item in items:
        event = _plain_event(item, with_user=True)
        if event is None:
            return None
        events.append(event)
    return events


def _batch_summary(outcomes: list[record.UsageOutcome]) -> dict[str, Any]:
    counts = {record.ACCEPTED: 0, record.DUPLICATE: 0, record.REFUSED: 0}
    results = []
    for index, outcome in enumerate(outcomes):
        counts[outcome.status] += 1
        results.append(
            {
                "index": index,
                "status": outcome.status,
                "code": outcome.code,
                "details": outcome.details,
            }
        )
    return {
        "accepted": counts[record.ACCEPTED],
        "duplicates": counts[record.DUPLICATE],
        "refused": counts[record.REFUSED],
        "results": results,
    }


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    metric = serializers.CharField()
    quantity = serializers.IntegerField()


class UsageHistoryApi(APIView):
    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer):
        metric = serializers.SlugField(max_length=50, required=False)
        date_from = serializers.DateField(required=False)
        date_to = serializers.DateField(required=False)

    class OutputSerializer(serializers.Serializer):
        date_from = serializers.DateField()
        date_to = serializers.DateField()
        days = UsageDaySerializer(many=True)

        class Meta:
            ref_name = "UsageHistoryOutput"

    @extend_schema(
        operation_id="usage_history",
        parameters=[
            OpenApiParameter("metric", str, required=False),
            OpenApiParameter(
                "from", str, required=False, description="YYYY-MM-DD; 30 days back."
            ),
            OpenApiParameter(
                "to", str, required=False, description="YYYY-MM-DD; today."
            ),
        ],
        responses={200: OutputSerializer},
        tags=["usage"],
    )
    @raises(ValidationFailed)
    def get(self, request: Request) -> Response:
        params = self.FilterSerializer(
            data={
                k: v
                for k, v in {
                    "metric": request.query_params.get("metric"),
                    "date_from": request.query_params.get("from"),
                    "date_to": request.query_params.get("to"),
                }.items()
                if v
            }
        )
        params.is_valid(raise_exception=True)
        date_from, date_to = history_bounds(
            params.validated_data.get("date_from"), params.validated_data.get("date_to")
        )
        days = usage_history(
            user=request.user,
            metric=params.validated_data.get("metric"),
            date_from=date_from,
            date_to=date_to,
        )
        data = {"date_from": date_from, "date_to": date_to, "days": days}
        return Response(self.OutputSerializer(data).data)
