"""The guest subscribe saga on localstripe: email only, pay, then the steps."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.utils import timezone

from apps.billing.gateway import subscriptions as gw
from apps.billing.gateway.refunds import refund_retrieve
from apps.core.models import Notification, OutboxEvent, Workflow
from apps.core.workflows import workflow_retry_now
from apps.subscriptions.licence_models import LicenceKey, SubscribeFlow
from apps.subscriptions.models import Plan, Subscription
from apps.subscriptions.services import guest_steps
from apps.subscriptions.services.guest_flow import WORKFLOW_NAME
from apps.subscriptions.services.licence_verify import licence_verify
from tests.accounts.factories import UserFactory
from tests.subscriptions.conftest import confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]

KEY = re.compile(r"([0-9A-F]{4}-){7}[0-9A-F]{4}")
START = "/api/v1/subscribe/guest/"


def start(api_client, price, email="guest@example.com"):
    r = api_client.post(START, {"email": email, "price": price.pk}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def pay_and_confirm(api_client, body, capture):
    confirm(body["client_secret"])
    with capture(execute=True):
        r = api_client.post(f"{START}{body['flow']}/confirm/")
    assert r.status_code == 200
    return SubscribeFlow.objects.get(token=body["flow"])


def welcome_mails(email="guest@example.com"):
    return [m for m in mail.outbox if m.to == [email] and "licence key" in m.subject]


def test_happy_path_new_email_gets_account_subscription_key_and_sign_in(
    api_client, client, pushed_price, django_capture_on_commit_callbacks
):
    price = pushed_price(amount=900, features={"devices": 2})
    body = start(api_client, price)
    assert set(body) == {"flow", "status", "client_secret", "kind", "publishable_key"}
    assert (body["status"], body["kind"]) == ("awaiting_payment", "payment_intent")

    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)

    assert (flow.status, flow.current_step) == ("completed", "done")
    assert set(flow.steps) >= {"payment", "identity", "subscription", "licence"}
    user = flow.user
    assert user.email == "guest@example.com"
    assert not user.has_usable_password()
    assert not user.emailaddress_set.get().verified
    sub = Subscription.objects.get(user=user)
    assert (sub.status, sub.stripe_id) == ("active", flow.stripe_subscription_id)
    licence = LicenceKey.objects.get(subscription=sub)
    assert (licence.status, licence.seats) == ("active", 2)
    (welcome,) = welcome_mails()
    key = KEY.search(welcome.body).group(0)
    assert licence_verify(key=key, device_id="phone").status == "valid"
    assert "made an account" in welcome.body
    assert OutboxEvent.objects.filter(topic="subscribe_flow.completed").count() == 1
    assert api_client.get(f"{START}{body['flow']}/").json()["status"] == "completed"

    # The emailed link signs in once (GET asks, POST signs in).
    link = re.search(r"http\S+/sign-in/\S+/", welcome.body).group(0)
    path = urlparse(link).path
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    assert client.get("/account/subscription/").status_code == 200
    assert user.emailaddress_set.get().verified
    client.logout()
    assert client.post(path).status_code == 400  # spent


def test_existing_account_gets_the_subscription_and_nothing_leaks(
    api_client, pushed_price, django_capture_on_commit_callbacks
):
    owner = UserFactory(email="known@example.com")
    price = pushed_price()
    known = start(api_client, price, email="Known@Example.com")
    unknown = start(api_client, price, email="new@example.com")
    assert set(known) == set(unknown)
    assert known["status"] == unknown["status"]

    flow = pay_and_confirm(api_client, known, django_capture_on_commit_callbacks)

    assert flow.status == "completed"
    assert flow.user == owner
    assert Subscription.objects.get(user=owner).status == "active"
    (welcome,) = welcome_mails("known@example.com")
    assert "already has an account" in welcome.body
    assert "Sign in to manage it" in welcome.body
    from apps.accounts.models import User

    assert User.objects.filter(email__iexact="known@example.com").count() == 1


def test_plan_archived_meanwhile_refunds_cancels_emails_and_fails(
    api_client, pushed_price, django_capture_on_commit_callbacks
):
    price = pushed_price(amount=1500)
    body = start(api_client, price)
    Plan.objects.filter(pk=price.plan_id).update(status="archived")

    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)

    assert (flow.status, flow.failure_reason) == ("failed", "plan_unavailable")
    refund = refund_retrieve(refund_id=flow.steps["compensation"]["refund"])
    assert (refund.amount_minor, refund.status) == (1500, "succeeded")
    assert (
        gw.subscription_retrieve(subscription_id=flow.stripe_subscription_id).status
        == "canceled"
    )
    assert not Subscription.objects.filter(user=flow.user).exists()
    assert not LicenceKey.objects.exists()
    failed = [m for m in mail.outbox if "could not be completed" in m.subject]
    assert len(failed) == 1
    assert "refunded in full" in failed[0].body
    assert OutboxEvent.objects.filter(topic="subscribe_flow.failed").count() == 1
    assert not Workflow.objects.exists()


def test_already_subscribed_account_is_refunded_not_doubled(
    api_client, pushed_price, django_capture_on_commit_callbacks
):
    from apps.subscriptions import services

    owner = UserFactory(email="subbed@example.com")
    start_own = services.subscription_create(user=owner, price_id=pushed_price().pk)
    confirm(start_own.client_secret)
    services.subscription_sync(stripe_id=start_own.subscription.stripe_id)
    body = start(api_client, pushed_price(), email="subbed@example.com")

    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)

    assert (flow.status, flow.failure_reason) == ("failed", "already_subscribed")
    assert Subscription.objects.filter(user=owner).count() == 1
    assert flow.steps["compensation"]["refund"]


class Flaky:
    """Make one saga step fail until told otherwise (a dependency outage)."""

    def __init__(self, monkeypatch, step):
        self.real = guest_steps.STEPS[step]
        self.broken = True
        self.calls = 0
        monkeypatch.setitem(guest_steps.STEPS, step, self)

    def __call__(self, flow):
        self.calls += 1
        if self.broken:
            raise RuntimeError("injected outage")
        return self.real(flow)


def _staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )
    client.force_login(staff)
    return client


def _failure_mails():
    return [m for m in mail.outbox if "could not be completed" in m.subject]


def _assert_kept_up_to(flow, step):
    """What a step that keeps failing leaves: everything before it, kept.

    A step that can still succeed is not compensated: the payment stands (the
    Stripe subscription stays active, nothing is refunded), the visitor gets
    no failure email, the flow stays ``processing`` at that step, and only
    the effects of the steps before it exist.
    """
    from apps.accounts.models import User

    assert (flow.status, flow.current_step) == ("processing", step)
    assert "compensation" not in flow.steps
    assert (
        gw.subscription_retrieve(subscription_id=flow.stripe_subscription_id).status
        == "active"
    )
    assert not _failure_mails()
    assert not OutboxEvent.objects.filter(topic="subscribe_flow.failed").exists()
    welcome = Notification.objects.filter(kind="subscriptions.guest_welcome")
    if step == "identity":
        assert flow.user is None
        assert not User.objects.filter(email="guest@example.com").exists()
    else:
        assert flow.user.email == "guest@example.com"
    if step in ("identity", "subscription"):
        assert not Subscription.objects.exists()
    else:
        assert Subscription.objects.get(pk=flow.subscription_id).status == "active"
    if step == "notification":
        assert LicenceKey.objects.get(pk=flow.licence_id).status == "active"
        assert welcome.count() == 1
    else:
        # The key and its email are made together, or not at all.
        assert not LicenceKey.objects.exists()
        assert not welcome.exists()


@pytest.mark.parametrize(
    "step", ["identity", "subscription", "licence", "notification"]
)
def test_a_step_that_keeps_failing_leaves_a_workflow_admin_retry_completes(
    api_client,
    client,
    pushed_price,
    django_capture_on_commit_callbacks,
    django_user_model,
    monkeypatch,
    eager_retries,
    step,
):
    flaky = Flaky(monkeypatch, step)
    body = start(api_client, pushed_price(amount=700))

    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)

    assert flaky.calls == 4  # the first try and three backed-off retries
    assert flow.retry_count == 4
    assert "injected outage" in flow.last_error
    assert flow.steps[step]["status"] == "failed"
    _assert_kept_up_to(flow, step)
    row = Workflow.objects.get(name=WORKFLOW_NAME, reference=body["flow"])
    assert (row.status, row.payload["step"]) == ("open", step)
    assert f"step {step}: RuntimeError: injected outage" in row.last_error

    # Staff retry the row from the FailedWorkflow admin ("Retry now").
    staff = _staff_client(client, django_user_model)
    assert staff.get("/admin/core/workflow/").status_code == 200
    flaky.broken = False
    with django_capture_on_commit_callbacks(execute=True):
        r = staff.post(
            "/admin/core/workflow/",
            {"action": "retry", "_selected_action": [row.pk]},
        )

    assert r.status_code == 302
    row.refresh_from_db()
    assert row.status == "resolved"
    flow.refresh_from_db()
    assert (flow.status, flow.current_step) == ("completed", "done")
    assert Subscription.objects.get(user=flow.user).status == "active"
    assert LicenceKey.objects.get(user=flow.user).status == "active"
    assert Notification.objects.filter(kind="subscriptions.guest_welcome").count() == 1
    assert len(welcome_mails()) == 1
    assert "compensation" not in flow.steps
    assert OutboxEvent.objects.filter(topic="subscribe_flow.completed").count() == 1


class CannotComplete:
    """Make one saga step find the purchase cannot be honoured (permanent)."""

    def __init__(self, monkeypatch, step):
        self.calls = 0
        monkeypatch.setitem(guest_steps.STEPS, step, self)

    def __call__(self, flow):
        from apps.subscriptions.services.guest_flow import FlowCannotComplete

        self.calls += 1
        raise FlowCannotComplete("injected", "This purchase cannot be honoured.")


@pytest.mark.parametrize(
    "step", ["identity", "subscription", "licence", "notification"]
)
def test_a_step_that_cannot_complete_compensates_what_was_made(
    api_client, pushed_price, django_capture_on_commit_callbacks, monkeypatch, step
):
    """A permanent failure after payment undoes the purchase, once, not retried.

    Whatever the steps before it made is undone: the Stripe subscription is
    cancelled and its payment refunded in full, our subscription (if made)
    follows to canceled and its key (if issued) is revoked; the visitor is
    emailed why; the flow ends failed with no Workflow row left to retry.
    An account made by the identity step stays (it is only an email).
    """
    failing = CannotComplete(monkeypatch, step)
    body = start(api_client, pushed_price(amount=1100))

    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)

    assert failing.calls == 1  # not retried
    assert (flow.status, flow.failure_reason) == ("failed", "injected")
    assert flow.current_step == step
    refund = refund_retrieve(refund_id=flow.steps["compensation"]["refund"])
    assert (refund.amount_minor, refund.status) == (1100, "succeeded")
    assert (
        gw.subscription_retrieve(subscription_id=flow.stripe_subscription_id).status
        == "canceled"
    )
    if step in ("identity", "subscription"):
        assert not Subscription.objects.exists()
    else:
        assert Subscription.objects.get(pk=flow.subscription_id).status == "canceled"
    if step == "notification":
        assert LicenceKey.objects.get(pk=flow.licence_id).status == "revoked"
    else:
        assert not LicenceKey.objects.exists()
    (failed,) = _failure_mails()
    assert "refunded in full" in failed.body
    assert OutboxEvent.objects.filter(topic="subscribe_flow.failed").count() == 1
    assert not OutboxEvent.objects.filter(topic="subscribe_flow.completed").exists()
    assert not Workflow.objects.exclude(status="resolved").exists()


def test_a_declined_payment_makes_nothing_and_the_flow_fails_when_stripe_gives_up(
    api_client, pushed_price, django_capture_on_commit_callbacks
):
    """A failure at the payment step: no saga runs, nothing to compensate.

    The payment is the visitor's own step (on the page), so a decline is not
    retried by Celery and leaves no Workflow row: the flow waits for another
    card. When Stripe gives the first invoice up (voided: what Stripe does to
    an unpaid first invoice after about a day, here done at once on
    localstripe) the subscription is incomplete_expired and the flow ends
    ``failed`` (``payment_failed``) with no account, subscription, key,
    refund or email.
    """
    from apps.accounts.models import User
    from apps.billing.exceptions import PaymentDeclined
    from apps.billing.gateway.testing import invoice_void
    from tests.subscriptions.conftest import CARD_DECLINED

    body = start(api_client, pushed_price(amount=900))
    with pytest.raises(PaymentDeclined):
        confirm(body["client_secret"], card=CARD_DECLINED)
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(f"{START}{body['flow']}/confirm/")
    assert r.status_code == 200
    assert r.json()["status"] == "awaiting_payment"

    flow = SubscribeFlow.objects.get(token=body["flow"])
    snap = gw.subscription_retrieve(subscription_id=flow.stripe_subscription_id)
    invoice_void(invoice_id=snap.latest_invoice_id)
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(f"{START}{body['flow']}/confirm/")

    assert r.json()["status"] == "failed"
    flow.refresh_from_db()
    assert (flow.status, flow.failure_reason) == ("failed", "payment_failed")
    assert flow.current_step == "payment"
    assert flow.user is None
    assert not User.objects.filter(email="guest@example.com").exists()
    assert not Subscription.objects.exists()
    assert not LicenceKey.objects.exists()
    assert not Notification.objects.exists()
    assert "compensation" not in flow.steps  # nothing was charged
    assert not Workflow.objects.exists()
    assert OutboxEvent.objects.filter(topic="subscribe_flow.failed").count() == 1
    assert mail.outbox == []


def test_rerunning_every_step_duplicates_nothing(
    api_client, pushed_price, django_capture_on_commit_callbacks
):
    body = start(api_client, pushed_price())
    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)
    assert flow.status == "completed"

    # A worker killed after a step's effect committed reruns that step: put
    # the flow back at each step in turn and run it again.
    with django_capture_on_commit_callbacks(execute=True):
        for step in ["identity", "subscription", "licence", "notification"]:
            SubscribeFlow.objects.filter(pk=flow.pk).update(
                status="processing", current_step=step
            )
            guest_steps.run(SubscribeFlow.objects.get(pk=flow.pk), step)

    from apps.accounts.models import User

    assert User.objects.filter(email="guest@example.com").count() == 1
    assert Subscription.objects.filter(user=flow.user).count() == 1
    assert LicenceKey.objects.filter(user=flow.user).count() == 1
    assert Notification.objects.filter(kind="subscriptions.guest_welcome").count() == 1
    assert len(welcome_mails()) == 1


def test_admin_retries_a_stuck_flow_from_its_step(
    api_client,
    client,
    pushed_price,
    django_capture_on_commit_callbacks,
    monkeypatch,
    eager_retries,
    django_user_model,
):
    flaky = Flaky(monkeypatch, "licence")
    body = start(api_client, pushed_price())
    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)
    assert flow.current_step == "licence"
    staff = django_user_model.objects.create_superuser(
        email="staff@example.com", password="pw"
    )
    client.force_login(staff)
    assert client.get("/admin/subscriptions/subscribeflow/").status_code == 200
    flaky.broken = False

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/admin/subscriptions/subscribeflow/",
            {"action": "retry_from_failed_step", "_selected_action": [flow.pk]},
        )

    assert r.status_code == 302
    flow.refresh_from_db()
    assert flow.status == "completed"
    assert Workflow.objects.get(reference=body["flow"]).status == "resolved"


def test_guest_api_refuses_unknown_price_and_bad_email(api_client, localstripe):
    r = api_client.post(START, {"email": "x@example.com", "price": 999}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "price_not_found")
    r = api_client.post(START, {"email": "nope", "price": 1}, format="json")
    assert r.json()["error"]["code"] == "validation_error"
    assert (
        api_client.get(f"{START}00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )


def test_compensation_after_the_key_was_issued_revokes_it(
    api_client,
    pushed_price,
    django_capture_on_commit_callbacks,
    monkeypatch,
    eager_retries,
):
    from apps.subscriptions.services.guest_flow import subscribe_flow_compensate

    Flaky(monkeypatch, "notification")
    body = start(api_client, pushed_price(amount=800))
    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)
    assert LicenceKey.objects.get(pk=flow.licence_id).status == "active"

    with django_capture_on_commit_callbacks(execute=True):
        subscribe_flow_compensate(flow_id=flow.pk, reason="staff", why="Sorry.")

    flow.refresh_from_db()
    assert flow.status == "failed"
    assert LicenceKey.objects.get(pk=flow.licence_id).status == "revoked"
    assert Subscription.objects.get(pk=flow.subscription_id).status == "canceled"
    refund = refund_retrieve(refund_id=flow.steps["compensation"]["refund"])
    assert refund.amount_minor == 800


def test_a_refund_that_fails_is_retried_from_the_workflow_and_refunds_once(
    api_client,
    pushed_price,
    django_capture_on_commit_callbacks,
    monkeypatch,
    eager_retries,
):
    from apps.billing.exceptions import TransientError

    real_refund = guest_steps.refund_create
    calls = []

    def refund_down(**kwargs):
        # localstripe cannot be made to refuse a refund: stand in for an outage.
        calls.append(kwargs)
        raise TransientError("Stripe unreachable")

    monkeypatch.setattr(guest_steps, "refund_create", refund_down)
    price = pushed_price(amount=600)
    body = start(api_client, price)
    Plan.objects.filter(pk=price.plan_id).update(status="archived")

    flow = pay_and_confirm(api_client, body, django_capture_on_commit_callbacks)

    assert (flow.status, flow.current_step) == ("processing", "subscription")
    assert "compensation: TransientError" in flow.last_error
    row = Workflow.objects.get(name=WORKFLOW_NAME, reference=body["flow"])

    monkeypatch.setattr(guest_steps, "refund_create", real_refund)
    with django_capture_on_commit_callbacks(execute=True):
        assert workflow_retry_now(workflow_id=row.pk).status == "resolved"

    flow.refresh_from_db()
    assert (flow.status, flow.failure_reason) == ("failed", "plan_unavailable")
    refund = refund_retrieve(refund_id=flow.steps["compensation"]["refund"])
    assert refund.amount_minor == 600
    assert len([m for m in mail.outbox if "could not be completed" in m.subject]) == 1


def test_a_paid_flow_never_confirmed_back_is_picked_up_by_beat(
    api_client, pushed_price, django_capture_on_commit_callbacks, time_machine
):
    from apps.subscriptions.services.guest_flow import (
        subscribe_flows_check_unconfirmed,
    )

    paid = start(api_client, pushed_price(), email="paid@example.com")
    unpaid = start(api_client, pushed_price(), email="unpaid@example.com")
    confirm(paid["client_secret"])  # and the tab closed: no confirm call
    assert subscribe_flows_check_unconfirmed() == 0  # too early to ask

    time_machine.move_to(timezone.now() + timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert subscribe_flows_check_unconfirmed() == 2

    assert SubscribeFlow.objects.get(token=paid["flow"]).status == "completed"
    assert SubscribeFlow.objects.get(token=unpaid["flow"]).status == (
        "awaiting_payment"
    )
