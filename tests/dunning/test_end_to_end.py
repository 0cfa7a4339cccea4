"""A failed renewal on localstripe, through the dunning schedule (issue 15).

Time is moved with time_machine on the shop's side; localstripe keeps its own
clock, which nothing here depends on. Celery runs eagerly and the beat task
is called as the scheduler would call it (see conftest). Access is checked
where the subscriber meets it: the licence key's status and entitlements_for.
test_worker.py runs the same two cases in a real worker process.
"""

from datetime import timedelta

import pytest
import requests
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.billing.exceptions import PaymentDeclined
from apps.billing.gateway import invoices as gw_invoices
from apps.billing.gateway import renewals
from apps.billing.gateway.testing import CARD_3DS_REQUIRED, CARD_OK
from apps.dunning.models import DunningAction, DunningCase
from apps.subscriptions.models import Customer, Subscription
from apps.subscriptions.signals import payment_method_updated
from tests.accounts.factories import UserFactory
from tests.dunning.conftest import DAY, entitled, licence_statuses, subjects

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

A = DunningAction.Status
MINUTE = timedelta(minutes=1)


def test_soft_declines_follow_the_policy_until_a_card_update_recovers(
    active, beat, fail_renewal, time_machine, django_capture_on_commit_callbacks
):
    t0 = timezone.now()
    time_machine.move_to(t0)
    case = fail_renewal(active, renewals.CARD_DECLINED_ON_CHARGE)

    sub = Subscription.objects.get(pk=active.pk)
    assert case.status == DunningCase.Status.OPEN
    assert sub.status == "past_due"
    assert sub.grace_until == case.grace_until == case.failed_at + 5 * DAY
    assert sub.grants_access(timezone.now())
    # Grace: the licence and the plan's features stay while the case is open.
    assert licence_statuses(sub) == ["active"]
    assert entitled(sub)
    assert len(subjects("Your payment for")) == 1  # "did not go through"
    retries = case.actions.filter(kind="retry").order_by("due_at")
    assert [r.due_at - case.failed_at for r in retries] == [
        1 * DAY,
        3 * DAY,
        5 * DAY,
        7 * DAY,
    ]

    for day, tried in ((1, 1), (3, 2), (5, 3)):
        time_machine.move_to(case.failed_at + day * DAY + MINUTE)
        beat()
        failed = case.actions.filter(kind="retry", status=A.FAILED)
        assert failed.count() == tried
        assert (
            case.actions.filter(kind="retry", status=A.SCHEDULED).count() == 4 - tried
        )
        in_grace = day < 5
        assert licence_statuses(sub) == ["active" if in_grace else "suspended"], day
        assert entitled(sub) is in_grace, day
    assert case.actions.get(kind="grace_end").status == A.SUCCEEDED
    assert {r.decline_code for r in failed} == {"generic_decline"}
    assert len({r.idempotency_key for r in failed}) == 3
    assert beat() == 0  # nothing else due: each action ran once

    sub.refresh_from_db()
    assert sub.status == "past_due"
    assert not sub.grants_access(timezone.now())  # grace (5 days) is over

    # The subscriber saves a working card (another helper's page sends this).
    customer = Customer.objects.get(user_id=sub.user_id)
    renewals.customer_default_card_set(customer_id=customer.stripe_id, number=CARD_OK)
    with django_capture_on_commit_callbacks(execute=True):
        payment_method_updated.send(
            sender=Subscription, subscription_id=sub.pk, user_id=sub.user_id
        )

    case.refresh_from_db()
    sub.refresh_from_db()
    assert case.status == DunningCase.Status.RECOVERED
    assert case.close_reason == "retry:card_updated"
    assert sub.status == "active"
    assert sub.grace_until is None
    assert sub.grants_access(timezone.now())
    # Recovery reinstates the same licence key and the plan's features.
    assert licence_statuses(sub) == ["active"]
    assert entitled(sub)
    assert case.invoice.__class__.objects.get(pk=case.invoice_id).status == "paid"

    time_machine.move_to(case.failed_at + 8 * DAY + MINUTE)
    beat()
    beat()
    case.refresh_from_db()
    assert case.status == DunningCase.Status.RECOVERED
    assert not case.actions.filter(status=A.SCHEDULED).exists()
    name = sub.price.plan.name
    # Once each; the receipt is the subscriptions app's for the paid renewal,
    # the start and licence key emails the subscription's own at its start.
    assert sorted(subjects()) == sorted(
        [
            f"Your {name} subscription has started",
            "Your licence key",
            f"Your payment for {name} did not go through",
            f"Reminder: your payment for {name} is still due",
            f"Receipt for your {name} renewal",
            f"Thank you: your payment for {name} went through",
        ]
    )


def test_unrecovered_case_runs_to_the_final_action_and_cancels(
    active, beat, fail_renewal, time_machine
):
    time_machine.move_to(timezone.now())
    case = fail_renewal(active, renewals.CARD_DECLINED_ON_CHARGE)
    mail.outbox.clear()
    assert licence_statuses(active) == ["active"]
    assert entitled(active)

    time_machine.move_to(case.failed_at + 5 * DAY + MINUTE)
    beat()
    assert licence_statuses(active) == ["suspended"]
    assert not entitled(active)

    time_machine.move_to(case.failed_at + 8 * DAY + MINUTE)
    beat()
    beat()

    case.refresh_from_db()
    sub = Subscription.objects.get(pk=active.pk)
    assert case.status == DunningCase.Status.EXHAUSTED
    assert case.close_reason == "cancel"
    assert sub.status == "canceled"
    assert not sub.grants_access(timezone.now())
    # The subscription ended: its licence is revoked, no features remain.
    assert licence_statuses(sub) == ["revoked"]
    assert not entitled(sub)
    assert case.actions.filter(kind="retry", status=A.FAILED).count() == 4
    assert case.actions.get(kind="final").status == A.SUCCEEDED
    name = sub.price.plan.name
    mine = [s for s in subjects() if name in s]
    assert sorted(mine) == sorted(
        [
            f"Reminder: your payment for {name} is still due",
            f"Final notice: {name} ends soon unless the payment goes through",
            f"Your {name} subscription is cancelled",
        ]
    ), mine


def test_hard_decline_is_not_retried_and_asks_for_a_new_card(
    active, beat, fail_renewal, time_machine, monkeypatch
):
    time_machine.move_to(timezone.now())
    case = fail_renewal(active, renewals.CARD_DECLINED_ON_CHARGE)
    # localstripe cannot decline with a decline code (stolen_card is refused
    # when attached, and charges fail only as card_declined), so the retry's
    # gateway call is replaced for this test only.
    calls = []

    def stolen(*, invoice_id, idempotency_key):
        calls.append(idempotency_key)
        raise PaymentDeclined(
            "Your card was declined.", details={"decline_code": "stolen_card"}
        )

    monkeypatch.setattr(gw_invoices, "invoice_pay", stolen)

    for day in (1, 3, 5, 7):
        time_machine.move_to(case.failed_at + day * DAY + MINUTE)
        beat()

    case.refresh_from_db()
    assert len(calls) == 1
    assert case.awaiting_customer == "card_update"
    assert case.last_decline_code == "stolen_card"
    assert case.actions.filter(kind="retry", status=A.SKIPPED).count() == 3
    name = active.price.plan.name
    assert subjects(f"Please update your card for {name}") == [
        f"Please update your card for {name}"
    ]


def test_authentication_required_emails_a_link_and_completing_it_recovers(
    active,
    beat,
    fail_renewal,
    time_machine,
    client,
    localstripe,
    settings,
    django_capture_on_commit_callbacks,
):
    time_machine.move_to(timezone.now())
    case = fail_renewal(active, CARD_3DS_REQUIRED)
    time_machine.move_to(case.failed_at + DAY + MINUTE)
    beat()

    case.refresh_from_db()
    assert case.awaiting_customer == "authentication"
    link = [m for m in mail.outbox if "confirm the payment" in m.subject]
    assert len(link) == 1
    pay_path = reverse("dunning:case-pay", kwargs={"case_id": case.pk})
    assert pay_path in link[0].body

    client.force_login(active.user)
    page = client.get(pay_path)
    assert page.status_code == 200
    assert page.context["needs_action"] is True
    secret = page.context["payment"].client_secret
    intent_id = page.context["payment"].payment_intent_id
    # What Stripe.js does when the customer passes 3-D Secure in the browser.
    done = requests.post(
        f"{localstripe}/v1/payment_intents/{intent_id}/_authenticate",
        params={"success": "true"},
        data={"client_secret": secret},
        auth=(settings.STRIPE_TEST_SECRET_KEY, ""),
        timeout=10,
    )
    assert done.status_code == 200, done.text
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dunning:case-paid", kwargs={"case_id": case.pk})
        )

    assert response.status_code == 302
    case.refresh_from_db()
    sub = Subscription.objects.get(pk=active.pk)
    assert case.status == DunningCase.Status.RECOVERED
    assert sub.status == "active"
    assert sub.grants_access(timezone.now())
    assert len(subjects("Thank you: your payment")) == 1


def test_pay_page_is_the_owners_only(active, fail_renewal, client, time_machine):
    time_machine.move_to(timezone.now())
    case = fail_renewal(active, renewals.CARD_DECLINED_ON_CHARGE)
    client.force_login(UserFactory())

    page = client.get(reverse("dunning:case-pay", kwargs={"case_id": case.pk}))

    assert page.status_code == 404


def test_simulate_renewal_fail_uses_the_issues_card_and_opens_a_case(
    active, fail_renewal, time_machine, capsys
):
    time_machine.move_to(timezone.now())

    case = fail_renewal(active, renewals.CARD_RENEWAL_FAILS)

    assert "invoice open" in capsys.readouterr().out
    assert case.status == DunningCase.Status.OPEN
    assert Subscription.objects.get(pk=active.pk).status == "past_due"
    assert case.invoice.amount_due_minor == 1200
