"""Dunning services without Stripe: declines, opening, recovery, retries."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.billing.exceptions import PaymentDeclined, TransientError
from apps.billing.gateway import invoices as gw_invoices
from apps.dunning import services
from apps.dunning.declines import DeclineClass, decline_class
from apps.dunning.models import DunningAction, DunningCase, DunningPolicy
from apps.dunning.services import steps
from apps.subscriptions.models import Invoice
from apps.subscriptions.signals import invoice_paid, invoice_payment_failed
from tests.dunning.factories import DunningActionFactory, DunningCaseFactory
from tests.subscriptions.factories import InvoiceFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

A = DunningAction.Status


@pytest.mark.parametrize(
    ("code", "seen", "expected"),
    [
        ("insufficient_funds", 0, DeclineClass.SOFT),
        ("generic_decline", 0, DeclineClass.SOFT),
        ("stolen_card", 0, DeclineClass.HARD),
        ("lost_card", 0, DeclineClass.HARD),
        ("expired_card", 0, DeclineClass.HARD),
        ("do_not_honor", 1, DeclineClass.SOFT),
        ("do_not_honor", 2, DeclineClass.HARD),
        ("authentication_required", 0, DeclineClass.AUTHENTICATION),
    ],
)
def test_decline_class(code, seen, expected):
    assert decline_class(code, do_not_honor_seen=seen, do_not_honor_limit=2) == expected


def test_policy_default_created_once_with_the_issues_defaults():
    first = services.policy_default()
    assert services.policy_default() == first
    assert first.retry_offsets_days == [1, 3, 5, 7]
    assert (first.reminder_day, first.final_notice_day) == (3, 6)
    assert first.final_action == DunningPolicy.FinalAction.CANCEL


@pytest.mark.parametrize(
    ("offsets", "final_day"), [([3, 1], 8), ([], 8), ([1, 3, 9], 8), ("1,3", 8)]
)
def test_policy_rejects_bad_schedules(offsets, final_day):
    policy = DunningPolicy(
        name="x", retry_offsets_days=offsets, final_action_day=final_day
    )
    with pytest.raises(ValidationError):
        policy.full_clean()


def _failed_invoice():
    sub = SubscriptionFactory(status="past_due")
    return InvoiceFactory(subscription=sub, status="open", amount_paid_minor=0)


def test_payment_failed_signal_twice_opens_one_case_with_its_schedule(
    django_capture_on_commit_callbacks,
):
    invoice = _failed_invoice()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            invoice_payment_failed.send(
                sender=Invoice,
                invoice_id=invoice.pk,
                subscription_id=invoice.subscription_id,
            )

    case = DunningCase.objects.get(invoice=invoice)
    days = sorted(
        ((a.due_at - case.failed_at).days, a.kind, a.detail) for a in case.actions.all()
    )
    assert days == [
        (0, "email", "failed"),
        (1, "retry", "schedule"),
        (3, "email", "reminder"),
        (3, "retry", "schedule"),
        (5, "grace_end", ""),
        (5, "retry", "schedule"),
        (6, "email", "final_notice"),
        (7, "retry", "schedule"),
        (8, "final", "cancel"),
    ]
    invoice.subscription.refresh_from_db()
    assert invoice.subscription.grace_until == case.grace_until
    assert len(mail.outbox) == 1  # "did not go through", sent at once


def test_closed_case_is_not_reopened_for_the_same_invoice():
    invoice = _failed_invoice()
    case = services.case_open(invoice_id=invoice.pk)
    services.case_write_off(case_id=case.pk)

    assert services.case_open(invoice_id=invoice.pk) is None
    assert DunningCase.objects.filter(invoice=invoice).count() == 1


def test_invoice_paid_signal_recovers_once_and_thanks_once(
    django_capture_on_commit_callbacks,
):
    invoice = _failed_invoice()
    case = services.case_open(invoice_id=invoice.pk)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            invoice_paid.send(
                sender=Invoice,
                invoice_id=invoice.pk,
                subscription_id=invoice.subscription_id,
            )

    case.refresh_from_db()
    assert case.status == DunningCase.Status.RECOVERED
    assert case.close_reason == "invoice_paid"
    invoice.subscription.refresh_from_db()
    assert invoice.subscription.grace_until is None
    thanks = [m for m in mail.outbox if m.subject.startswith("Thank you")]
    assert len(thanks) == 1


@pytest.fixture
def no_sync(monkeypatch):
    # Factory invoices exist nowhere at Stripe: no read-back after a retry.
    monkeypatch.setattr(steps, "_sync", lambda case: None)


def test_do_not_honor_becomes_hard_after_the_policy_limit(monkeypatch, no_sync):
    case = DunningCaseFactory()

    def decline(**kwargs):
        raise PaymentDeclined("Declined.", details={"decline_code": "do_not_honor"})

    monkeypatch.setattr(gw_invoices, "invoice_pay", decline)
    for n in (1, 2, 3):
        DunningActionFactory(case=case, attempt=n, idempotency_key=f"dnh-{n}")

    services.actions_run_due()

    case.refresh_from_db()
    statuses = list(case.actions.order_by("attempt").values_list("status", flat=True))
    assert statuses == [A.FAILED, A.FAILED, A.SKIPPED]
    assert case.awaiting_customer == "card_update"
    assert case.do_not_honor_count == 2


def test_stripe_unreachable_puts_the_attempt_back_with_its_key(monkeypatch, no_sync):
    keys = []

    def down(*, invoice_id, idempotency_key):
        keys.append(idempotency_key)
        raise TransientError("Stripe answered 503")

    monkeypatch.setattr(gw_invoices, "invoice_pay", down)
    action = DunningActionFactory(idempotency_key="same-key")

    services.actions_run_due()

    action.refresh_from_db()
    assert action.status == A.SCHEDULED
    assert action.due_at > timezone.now() + timedelta(minutes=5)
    assert keys == ["same-key"]
    assert action.idempotency_key == "same-key"


def test_case_events_go_to_the_outbox_on_open_and_close():
    from apps.core.models import OutboxEvent

    invoice = _failed_invoice()
    case = services.case_open(invoice_id=invoice.pk)
    services.case_recover(case_id=case.pk, reason="test")
    services.case_recover(case_id=case.pk, reason="test")

    topics = list(
        OutboxEvent.objects.filter(aggregate_type="dunning_case").values_list(
            "topic", flat=True
        )
    )
    assert topics == ["dunning.opened", "dunning.recovered"]


def test_final_action_mark_uncollectible_keeps_the_subscription(monkeypatch, no_sync):
    written_off = []
    monkeypatch.setattr(
        gw_invoices,
        "invoice_mark_uncollectible",
        lambda *, invoice_id, idempotency_key: written_off.append(idempotency_key),
    )
    policy = DunningPolicy.objects.create(
        name="keep unpaid", final_action=DunningPolicy.FinalAction.MARK_UNCOLLECTIBLE
    )
    case = DunningCaseFactory(policy=policy, invoice__subscription__status="unpaid")
    DunningActionFactory(
        case=case, kind="final", detail="mark_uncollectible", idempotency_key="fin"
    )

    services.actions_run_due()

    case.refresh_from_db()
    assert case.status == DunningCase.Status.EXHAUSTED
    assert written_off == ["fin"]
    assert case.subscription.status == "unpaid"


def test_grace_end_tells_entitlements_and_licences_access_changed(
    django_capture_on_commit_callbacks,
):
    from apps.subscriptions.signals import access_changed

    case = DunningCaseFactory(
        invoice__subscription__status="past_due",
        invoice__subscription__grace_until=timezone.now(),
    )
    DunningActionFactory(case=case, kind="grace_end", detail="")
    heard = []

    def receiver(**kwargs):
        heard.append((kwargs["subscription_id"], kwargs["reason"]))

    access_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.actions_run_due()
    finally:
        access_changed.disconnect(receiver)

    assert heard == [(case.subscription_id, "dunning_grace_ended")]
    case.subscription.refresh_from_db()
    assert not case.subscription.grants_access(timezone.now())
