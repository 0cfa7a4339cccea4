import pytest
from django.core.management import call_command

from apps.subscriptions.models import Feature, Plan, PlanPrice, PushStatus

pytestmark = pytest.mark.django_db


def test_seed_plans_is_idempotent_and_complete():
    call_command("seed_plans")
    call_command("seed_plans")

    assert set(Plan.objects.values_list("slug", flat=True)) == {
        "starter",
        "pro",
        "enterprise",
    }
    assert Plan.objects.get(slug="enterprise").visibility == Plan.Visibility.PRIVATE
    assert Plan.objects.get(slug="pro").trial_days == 14
    for slug in ("starter", "pro"):
        intervals = sorted(
            PlanPrice.objects.filter(plan__slug=slug).values_list("interval", flat=True)
        )
        assert intervals == ["month", "year"]
    assert Plan.objects.get(slug="starter").limits["api_calls"]["per_day"] == 100
    assert Feature.objects.count() == 5


def test_seed_then_push_plans_syncs_them_to_localstripe(localstripe):
    call_command("seed_plans", "--push")

    assert set(Plan.objects.values_list("push_status", flat=True)) == {
        PushStatus.SYNCED
    }
    assert not PlanPrice.objects.exclude(push_status=PushStatus.SYNCED).exists()


# seed_demo loading the plans is checked in tests/core/test_commands.py,
# which seeds the whole demo once.
