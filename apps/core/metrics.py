"""Prometheus metrics beyond django-prometheus's requests and latencies.

Two kinds. Counters of things that happen (orders paid, payments failed,
refunds, Celery task failures) are incremented by the app that owns the
event, in the process where it happens. Gauges of how things stand
(subscriptions by status, open dunning cases, webhook deliveries by result,
outbox lag, Celery queue lengths, beat heartbeat age) are read from the
database, the cache and the broker when ``/metrics`` is scraped, by
``ShopCollector``: they are right whichever process changed the rows.

Counters live in one process's memory. gunicorn workers and Celery's
prefork children are separate processes: run them with
``PROMETHEUS_MULTIPROC_DIR`` set to one shared, emptied-at-start directory
so ``/metrics`` adds up every process's counters (prometheus_client's
multiprocess mode).

Apps that come later (``dunning``, ``webhooks``) are looked up by name
(``apps.get_model``): until they are installed their gauges are simply
absent, and a field they name differently is tolerated the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

ORDERS_PAID = Counter("shop_orders_paid", "Orders that became paid.", ["currency"])
PAYMENTS_FAILED = Counter(
    "shop_payments_failed",
    "Payment attempts that failed (declined card, failed authentication); "
    "source is what was being paid (checkout; renewal for dunning).",
    ["source"],
)
REFUNDS = Counter("shop_refunds", "Refunds recorded at Stripe.", ["currency"])
REFUNDED_MINOR = Counter(
    "shop_refunded_minor",
    "Amount refunded, in the currency's minor units.",
    ["currency"],
)
TASK_FAILURES = Counter(
    "shop_celery_task_failures", "Celery tasks that raised.", ["task"]
)

# Status/result field names tried in order on models other apps own.
_STATUS_FIELDS = ("status", "state", "result")


def _status_field(model: Any) -> str | None:
    names = {f.name for f in model._meta.get_fields()}
    return next((name for name in _STATUS_FIELDS if name in names), None)


def _optional_model(label: str) -> Any:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


class ShopCollector(Collector):
    """Gauges computed at scrape time; a part that fails is left out."""

    def describe(self) -> list[Metric]:
        # Registering must not query the database (app loading does it).
        return []

    def collect(self) -> Iterator[Metric]:
        parts = (
            self._subscriptions,
            self._dunning,
            self._webhook_deliveries,
            self._outbox,
            self._celery_queues,
            self._beat,
        )
        for part in parts:
            try:
                yield from part()
            except Exception as exc:  # a scrape must answer with the rest
                logger.warning("metrics: %s failed: %s", part.__name__, exc)

    def _by_status(
        self, label: str, name: str, doc: str, label_name: str
    ) -> Iterator[Metric]:
        model = _optional_model(label)
        field = _status_field(model) if model is not None else None
        if field is None:
            return
        gauge = GaugeMetricFamily(name, doc, labels=[label_name])
        rows = model._default_manager.values_list(field).annotate(n=Count("pk"))
        for value, count in rows.order_by(field):
            gauge.add_metric([str(value)], count)
        yield gauge

    def _subscriptions(self) -> Iterator[Metric]:
        yield from self._by_status(
            "subscriptions.Subscription",
            "shop_subscriptions",
            "Subscriptions by status.",
            "status",
        )

    def _dunning(self) -> Iterator[Metric]:
        model = _optional_model("dunning.DunningCase")
        field = _status_field(model) if model is not None else None
        if field is None:
            return
        count = model._default_manager.filter(**{field: "open"}).count()
        yield GaugeMetricFamily(
            "shop_dunning_cases_open", "Dunning cases still open.", value=count
        )

    def _webhook_deliveries(self) -> Iterator[Metric]:
        yield from self._by_status(
            "webhooks.Delivery",
            "shop_webhook_deliveries",
            "Outgoing webhook deliveries by result.",
            "result",
        )

    def _outbox(self) -> Iterator[Metric]:
        from apps.core.models import OutboxEvent

        pending = OutboxEvent.objects.filter(published_at__isnull=True).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        oldest = pending["oldest"]
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "shop_outbox_lag_seconds",
            "Age of the oldest unpublished outbox event (0 when none).",
            value=max(lag, 0.0),
        )
        yield GaugeMetricFamily(
            "shop_outbox_unpublished",
            "Outbox events not yet published.",
            value=pending["n"],
        )

    def _celery_queues(self) -> Iterator[Metric]:
        broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
        if not broker.startswith(("redis://", "rediss://")):
            return  # embedded mode runs tasks in-process: no queue to measure
        import redis

        queues = metrics_queue_names()
        gauge = GaugeMetricFamily(
            "shop_celery_queue_length", "Tasks waiting in a queue.", labels=["queue"]
        )
        client = redis.Redis.from_url(
            broker, socket_timeout=1, socket_connect_timeout=1
        )
        try:
            for queue in queues:
                gauge.add_metric([queue], client.llen(queue))
        finally:
            client.close()
        yield gauge

    def _beat(self) -> Iterator[Metric]:
        from apps.core.heartbeat import beat_heartbeat_age

        age = beat_heartbeat_age()
        if age is not None:
            yield GaugeMetricFamily(
                "shop_beat_heartbeat_age_seconds",
                "Seconds since beat's heartbeat task last ran.",
                value=age,
            )


def metrics_queue_names() -> list[str]:
    """The Celery queues to measure: the setting, else the default queue."""
    configured = list(getattr(settings, "METRICS_CELERY_QUEUES", []) or [])
    default = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
    return configured or [default]


_collector = ShopCollector()


def metrics_registry() -> CollectorRegistry:
    """The registry a scrape reads: every process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_collector)
        return registry
    return REGISTRY


def metrics_connect() -> None:
    """Register the collector and the Celery failure counter (app ready)."""
    from celery.signals import task_failure

    # describe() names nothing, so registering twice is harmless.
    REGISTRY.register(_collector)
    task_failure.connect(_count_task_failure, weak=False, dispatch_uid="metrics")


def _count_task_failure(sender: Any = None, **_kwargs: Any) -> None:
    name = getattr(sender, "name", None) or "unknown"
    TASK_FAILURES.labels(task=name).inc()
