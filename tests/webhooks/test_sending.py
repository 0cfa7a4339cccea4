"""Sending deliveries to a real HTTP receiver on loopback (time_machine moves time)."""

import datetime
import itertools
import json
import re
import socket

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from apps.core.outbox import outbox_publish, outbox_relay
from apps.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from apps.webhooks.services import delivery_resend
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def readme_verify():
    """The signature check exactly as the README documents it."""
    readme = (ROOT / "README.md").read_text()
    code = re.search(
        r"```python\n(# Verify a shop webhook.*?)```", readme, re.DOTALL
    ).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102  the README's own recipe, under test
    return namespace["verify_shop_webhook"]


def _publish_and_relay(topic="order.paid", **payload):
    event = outbox_publish(
        topic=topic, payload=payload, aggregate_type="order", aggregate_id=7
    )
    outbox_relay()
    return event


def _advance_to_next_attempt(traveller, delivery):
    delivery.refresh_from_db()
    traveller.move_to(delivery.next_attempt_at + datetime.timedelta(seconds=1))


def test_receiver_failing_three_times_gets_one_success_after_four_attempts(
    receiver, endpoint_for, run_beat
):
    receiver.statuses = [500, 502, 503, 200]
    endpoint, _secret = endpoint_for(receiver.url)
    with time_machine.travel(START, tick=False) as traveller:
        _publish_and_relay(order="K7Q4-MXPA")
        run_beat()
        delivery = Delivery.objects.get()
        for _ in range(3):
            assert delivery.status in ("pending", "failed")
            _advance_to_next_attempt(traveller, delivery)
            run_beat()
            delivery.refresh_from_db()
        run_beat()  # nothing is due any more

    assert delivery.status == "succeeded"
    assert delivery.attempts == 4
    assert delivery.last_response_code == 200
    assert [r.status for r in receiver.requests] == [500, 502, 503, 200]
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery))
    assert [a.response_code for a in attempts] == [500, 502, 503, 200]
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    times = [a.started_at for a in attempts]
    assert times == sorted(times)
    assert len(set(times)) == 4
    # Backoff doubles (±20 % jitter): 2, 4, 8 minutes.
    gaps = [(b - a).total_seconds() - 1 for a, b in itertools.pairwise(times)]
    for gap, minutes in zip(gaps, (2, 4, 8), strict=True):
        assert 0.8 * minutes * 60 <= gap <= 1.2 * minutes * 60
    assert attempts[0].response_snippet == "x" * 1024  # read capped
    endpoint.refresh_from_db()
    assert endpoint.consecutive_dead_count == 0


def test_delivery_signature_verifies_with_readme_recipe(
    receiver, endpoint_for, run_beat
):
    _endpoint, secret = endpoint_for(receiver.url)
    event = _publish_and_relay(order="K7Q4-MXPA")
    run_beat()

    [request] = receiver.requests
    verify = readme_verify()
    header = request.headers["Shop-Signature"]
    assert verify(secret, header, request.body)
    assert not verify(secret, header, request.body + b" ")
    assert not verify("whsec_wrong", header, request.body)
    assert request.headers["Shop-Event-Id"] == str(event.pk)
    assert request.headers["Shop-Event-Type"] == "order.paid"
    body = json.loads(request.body)
    assert body["id"] == event.pk
    assert body["type"] == "order.paid"
    assert body["created"] == int(event.created_at.timestamp())
    assert body["object"] == {"type": "order", "id": "7", "version": 1}
    assert body["data"] == {"order": "K7Q4-MXPA"}


def test_signature_too_old_is_refused_by_readme_recipe(
    receiver, endpoint_for, run_beat
):
    _endpoint, secret = endpoint_for(receiver.url)
    with time_machine.travel(START, tick=False) as traveller:
        _publish_and_relay()
        run_beat()
        [request] = receiver.requests
        traveller.shift(datetime.timedelta(minutes=6))
        assert not readme_verify()(
            secret, request.headers["Shop-Signature"], request.body
        )


def test_receiver_down_for_good_goes_dead_and_disables_endpoint(
    closed_port_url, endpoint_for, run_beat, settings, django_user_model
):
    settings.WEBHOOKS_DISABLE_AFTER_DEAD = 2
    settings.WEBHOOKS_ALERT_EMAILS = []
    django_user_model.objects.create_user(
        email="ops@example.com", password="x", is_staff=True
    )
    endpoint, _secret = endpoint_for(closed_port_url)
    with time_machine.travel(START, tick=False) as traveller:
        _publish_and_relay()
        _publish_and_relay(topic="order.fulfilled")
        run_beat()
        for _ in range(11):
            due = Delivery.objects.filter(status="failed")
            latest = max(d.next_attempt_at for d in due)
            traveller.move_to(latest + datetime.timedelta(seconds=1))
            run_beat()
        run_beat()

    deliveries = list(Delivery.objects.order_by("pk"))
    assert [d.status for d in deliveries] == ["dead", "dead"]
    assert [d.attempts for d in deliveries] == [12, 12]
    assert deliveries[0].last_error.startswith("ConnectionError")
    span = deliveries[0].dead_at - deliveries[0].created_at
    assert datetime.timedelta(days=1) < span <= datetime.timedelta(days=3)
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.consecutive_dead_count == 2
    assert "2 deliveries in a row" in endpoint.disabled_reason
    [email] = mail.outbox
    assert email.to == ["ops@example.com"]
    assert endpoint.url in email.subject


def test_disabled_endpoint_gets_no_new_deliveries_or_retries(
    receiver, endpoint_for, run_beat
):
    receiver.statuses = [500]
    endpoint, _secret = endpoint_for(receiver.url)
    _publish_and_relay()
    run_beat()
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    _publish_and_relay()
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        run_beat()
    assert Delivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_resend_dead_delivery_sends_again(receiver, endpoint_for, run_beat, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.statuses = [500, 200]
    _endpoint, _secret = endpoint_for(receiver.url)
    _publish_and_relay()
    run_beat()
    delivery = Delivery.objects.get()
    assert delivery.status == "dead"

    delivery_resend(delivery_id=delivery.pk)
    run_beat()

    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert delivery.attempts == 1  # counted afresh since the resend
    assert delivery.attempt_records.count() == 2
    assert [r.status for r in receiver.requests] == [500, 200]
    assert receiver.requests[0].body == receiver.requests[1].body


def test_redirect_is_not_followed_and_counts_as_failure(
    receiver, endpoint_for, run_beat
):
    receiver.statuses = [302]
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    endpoint_for(receiver.url)
    _publish_and_relay()
    run_beat()
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_response_code == 302
    assert len(receiver.requests) == 1


def test_receiver_that_never_answers_times_out_and_is_retried(
    endpoint_for, run_beat, settings
):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.2
    # Listening but never accepting: the connection opens (kernel backlog) and
    # no answer ever comes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        endpoint_for(f"http://127.0.0.1:{silent.getsockname()[1]}/hooks")
        _publish_and_relay()
        run_beat()
    finally:
        silent.close()
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error == "No answer within 0.2 s."
    assert delivery.next_attempt_at > timezone.now()


def test_delivery_whose_sender_died_is_sent_again_after_its_lease(
    receiver, endpoint_for, run_beat
):
    endpoint_for(receiver.url)
    _publish_and_relay()
    # A worker claimed it and died mid-send: status sending, lease running.
    Delivery.objects.update(
        status="sending",
        claimed_by="dead-worker",
        lease_expires_at=timezone.now() + datetime.timedelta(minutes=1),
    )
    run_beat()
    assert receiver.requests == []

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        run_beat()

    delivery = Delivery.objects.get()
    assert delivery.status == "succeeded"
    assert delivery.claimed_by == ""
    assert len(receiver.requests) == 1


def test_success_resets_the_run_of_dead_deliveries(
    receiver, endpoint_for, run_beat, settings
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_DISABLE_AFTER_DEAD = 2
    receiver.statuses = [500, 200, 500]
    endpoint, _secret = endpoint_for(receiver.url)
    for expected in (1, 0, 1):
        _publish_and_relay()
        run_beat()
        endpoint.refresh_from_db()
        assert endpoint.consecutive_dead_count == expected
    assert endpoint.is_active
    assert mail.outbox == []
