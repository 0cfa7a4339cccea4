from django.conf import settings as django_settings

from apps.analytics.models import DailyMetrics
from apps.analytics.routers import AnalyticsReplicaRouter
from apps.checkout.models import Order


def test_router_sends_analytics_reads_to_the_replica_only_when_set(monkeypatch):
    router = AnalyticsReplicaRouter()
    assert router.db_for_read(DailyMetrics) is None

    # Only the key matters to the router; no connection is opened.
    monkeypatch.setitem(django_settings.DATABASES, "replica", {})

    assert router.db_for_read(DailyMetrics) == "replica"
    assert router.db_for_read(Order) is None
    assert router.db_for_write(DailyMetrics) is None
    assert router.allow_migrate("replica", "analytics") is False


def test_router_is_installed(settings):
    assert "apps.analytics.routers.AnalyticsReplicaRouter" in settings.DATABASE_ROUTERS
