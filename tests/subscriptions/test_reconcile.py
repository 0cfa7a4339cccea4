"""Renewals on localstripe and the reconcile command."""

import pytest
from django.core import mail
from django.core.management import call_command

from apps.subscriptions import services
from apps.subscriptions.models import Invoice, PlanPrice, Subscription
from tests.accounts.factories import UserFactory
from tests.conftest import admin_change_form_data
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


@pytest.fixture
def active(pushed_price):
    start = services.subscription_create(
        user=UserFactory(), price_id=pushed_price(amount=1200).pk
    )
    confirm(start.client_secret)
    return services.subscription_sync(stripe_id=start.subscription.stripe_id)


def test_simulate_renewal_charges_the_price_and_sends_a_receipt(
    active, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("billing_simulate_renewal", subscription=active.pk)

    paid = Invoice.objects.filter(subscription=active, status="paid")
    assert [i.amount_paid_minor for i in paid] == [1200, 1200]
    assert "renewed 1" in capsys.readouterr().out
    assert len([m for m in mail.outbox if m.subject.startswith("Receipt")]) == 1


def test_reconcile_fixes_drift_and_counts(active, capsys):
    # Drift: our row lost Stripe's state.
    Subscription.objects.filter(pk=active.pk).update(cancel_at_period_end=True)

    call_command("billing_reconcile")
    first = capsys.readouterr().out
    call_command("billing_reconcile")
    second = capsys.readouterr().out

    active.refresh_from_db()
    assert active.cancel_at_period_end is False
    # 1 subscription + 1 invoice checked; the subscription and the (new)
    # invoice row fixed the first time, nothing the second.
    assert first.strip() == "checked 2, fixed 2, failed 0"
    assert second.strip() == "checked 2, fixed 0, failed 0"


def test_edited_used_price_old_subscriber_renews_at_the_old_amount(
    active, django_capture_on_commit_callbacks
):
    old = active.price
    with django_capture_on_commit_callbacks(execute=True):
        change = services.plan_price_change_amount(price=old, amount_minor=1500)

    call_command("billing_simulate_renewal", subscription=active.pk)

    new = change.price
    assert new.pk != old.pk
    assert new.amount_minor == 1500
    old.refresh_from_db()
    assert old.active is False
    active.refresh_from_db()
    assert active.price_id == old.pk
    paid = Invoice.objects.filter(subscription=active, status="paid")
    assert [i.amount_paid_minor for i in paid] == [1200, 1200]


def test_used_price_edited_in_admin_old_subscriber_renews_old_new_pays_new(
    active, client, django_user_model, django_capture_on_commit_callbacks
):
    staff = django_user_model.objects.create_superuser(
        email="staff-renew@example.com", password="pw"
    )
    client.force_login(staff)
    old = active.price
    url = f"/admin/subscriptions/plan/{old.plan_id}/change/"
    data = admin_change_form_data(client.get(url))
    with django_capture_on_commit_callbacks(execute=True):  # the push task
        response = client.post(
            url, {**data, "prices-0-amount_minor": "15.00"}, follow=True
        )
    assert "new price was created and the old one archived" in (
        response.content.decode()
    )
    new = PlanPrice.objects.get(replaces=old)
    assert (new.amount_minor, new.active) == (1500, True)
    assert new.stripe_price_id

    with django_capture_on_commit_callbacks(execute=True):
        call_command("billing_simulate_renewal", subscription=active.pk)

    active.refresh_from_db()
    assert active.price_id == old.pk
    paid = Invoice.objects.filter(subscription=active, status="paid")
    assert sorted(i.amount_paid_minor for i in paid) == [1200, 1200]
    # A new subscriber pays the new amount.
    start = services.subscription_create(user=UserFactory(), price_id=new.pk)
    assert start.amount_due_minor == 1500
