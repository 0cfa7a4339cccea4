"""Staff actions on subscriptions in admin: confirm first, then the services."""

from datetime import timedelta

import pytest

from apps.billing.gateway import subscriptions as gw
from apps.subscriptions import services
from apps.subscriptions.models import ReconcileRun, SubscriptionEvent
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

CHANGELIST = "/admin/subscriptions/subscription/"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def active(pushed_price):
    user = UserFactory()
    start = services.subscription_create(user=user, price_id=pushed_price().pk)
    confirm(start.client_secret)
    sub = services.subscription_sync(stripe_id=start.subscription.stripe_id)
    snap = gw.subscription_retrieve(subscription_id=sub.stripe_id)
    services.invoice_sync(stripe_id=snap.latest_invoice_id)
    return sub


def act(client, action, sub, **extra):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [sub.pk], **extra}
    )


def test_cancel_now_asks_first_then_cancels_as_staff(staff_client, staff, active):
    asked = act(staff_client, "cancel_now", active)
    active.refresh_from_db()
    assert asked.status_code == 200
    assert "Nothing is refunded" in asked.content.decode()
    assert active.status == "active"

    done = act(staff_client, "cancel_now", active, confirmed="yes")

    assert done.status_code == 302
    active.refresh_from_db()
    assert active.status == "canceled"
    assert SubscriptionEvent.objects.filter(
        subscription=active, reason="cancel_now", actor=f"staff:{staff.pk}"
    ).exists()


def test_cancel_at_period_end_then_twice_warns(staff_client, active):
    act(staff_client, "cancel_at_period_end", active, confirmed="yes")
    again = act(staff_client, "cancel_at_period_end", active, confirmed="yes")

    active.refresh_from_db()
    assert active.cancel_at_period_end is True
    page = staff_client.get(again["Location"]).content.decode()
    assert "already ends at the period end" in page


def test_refund_pro_rata_after_cancel_now_once(staff_client, active):
    act(staff_client, "cancel_now", active, confirmed="yes")

    act(staff_client, "refund_pro_rata", active, confirmed="yes")
    second = act(staff_client, "refund_pro_rata", active, confirmed="yes")

    event = SubscriptionEvent.objects.get(subscription=active, reason="refund_pro_rata")
    # Cancelled within seconds of a 1000-cent month: nearly all of it back.
    assert -1000 <= event.amount_minor <= -990
    assert event.details["refund"].startswith("re_")
    assert "refunded already" in staff_client.get(second["Location"]).content.decode()


def test_extend_trial_moves_the_trial_end(staff_client, pushed_price):
    user = UserFactory()
    start = services.subscription_create(
        user=user, price_id=pushed_price(trial_days=14).pk
    )
    sub = start.subscription
    before = sub.trial_end

    asked = act(staff_client, "extend_trial", sub)
    act(staff_client, "extend_trial", sub, confirmed="yes", days="7")

    assert 'name="days"' in asked.content.decode()
    sub.refresh_from_db()
    assert sub.status == "trialing"
    assert sub.trial_end == before + timedelta(days=7)
    assert SubscriptionEvent.objects.filter(subscription=sub, reason="trial_extended")


def test_sync_now_and_reconcile_counts_in_admin(staff_client, active):
    act(staff_client, "sync_now", active)
    counts = services.reconcile.billing_reconcile()

    run = ReconcileRun.objects.get()
    assert (run.checked, run.fixed, run.failed) == (
        counts.checked,
        counts.fixed,
        counts.failed,
    )
    page = staff_client.get("/admin/subscriptions/reconcilerun/")
    assert page.status_code == 200
    assert f'<td class="field-checked">{counts.checked}</td>' in page.content.decode()
