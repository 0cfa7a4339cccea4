"""Licence keys: issued once with the subscription, following its status."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.core.exceptions import InvalidTransition
from apps.subscriptions.exceptions import LicenceNotFound
from apps.subscriptions.licence_models import LicenceDevice, LicenceKey
from apps.subscriptions.models import SUBSCRIPTION_STATES, Subscription
from apps.subscriptions.services import licences
from apps.subscriptions.services.effects import (
    access_may_have_changed,
    status_changed,
)
from apps.subscriptions.services.licence_verify import licence_verify
from tests.accounts.factories import UserFactory
from tests.subscriptions.factories import PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

KEY = re.compile(r"^([0-9A-F]{4}-){7}[0-9A-F]{4}$")


def move(sub, to, capture, **fields):
    """Change the subscription as the sync does; access_changed runs after."""
    with capture(execute=True):
        row = Subscription.objects.select_for_update().get(pk=sub.pk)
        for name, value in fields.items():
            setattr(row, name, value)
        if fields:
            row.save(update_fields=list(fields))
        if row.status == to:  # a grace change only
            access_may_have_changed(row, "test")
        else:
            SUBSCRIPTION_STATES.move(row, to, on_commit=[status_changed])
    return row


def test_key_is_128_bits_grouped_and_only_its_hash_is_stored():
    key = licences.licence_key_generate()
    assert KEY.match(key)
    assert len(key.replace("-", "")) * 4 == 128
    assert licences.licence_key_hash(key.lower()) == licences.licence_key_hash(key)
    assert licences.licence_key_generate() != key


def test_first_activation_issues_one_key_with_plan_seats_and_emails_it(
    django_capture_on_commit_callbacks,
):
    sub = SubscriptionFactory(status="incomplete", price__plan__features={"devices": 3})

    move(sub, "active", django_capture_on_commit_callbacks)
    move(sub, "active", django_capture_on_commit_callbacks)  # a replayed signal

    licence = LicenceKey.objects.get(subscription=sub)
    assert (licence.status, licence.seats, licence.user_id) == (
        "active",
        3,
        sub.user_id,
    )
    sent = [m for m in mail.outbox if m.subject == "Your licence key"]
    assert len(sent) == 1
    # The full key is in the mail, never in the row.
    match = re.search(r"([0-9A-F]{4}-){7}[0-9A-F]{4}", sent[0].body)
    assert match
    assert licences.licence_key_hash(match.group(0)) == licence.key_hash
    assert match.group(0) not in str(LicenceKey.objects.values().get(pk=licence.pk))


def test_lifecycle_active_suspended_after_grace_reinstated_revoked(
    django_capture_on_commit_callbacks, time_machine
):
    sub = SubscriptionFactory(status="incomplete", price__plan__features={"devices": 2})
    move(sub, "active", django_capture_on_commit_callbacks)
    licence = LicenceKey.objects.get(subscription=sub)
    # The full key is only in the mail; rotate to get one the test can use.
    key = licences.licence_rotate(user=sub.user, licence_id=licence.pk).key
    assert licence_verify(key=key, device_id="laptop").status == "valid"

    # past_due within grace still grants.
    grace = timezone.now() + timedelta(days=3)
    move(sub, "past_due", django_capture_on_commit_callbacks, grace_until=grace)
    assert licence_verify(key=key, device_id="laptop").status == "valid"

    # Grace runs out with no event: the beat sweep suspends.
    time_machine.move_to(grace + timedelta(minutes=1))
    assert licences.licences_follow_grace_expiry() == 1
    answer = licence_verify(key=key, device_id="laptop")
    assert (answer.status, answer.plan) == ("suspended", sub.price.plan.slug)

    # Recovery reinstates.
    move(sub, "active", django_capture_on_commit_callbacks, grace_until=None)
    assert licence_verify(key=key, device_id="laptop").status == "valid"

    # Unpaid suspends at once, cancel revokes for good.
    move(sub, "unpaid", django_capture_on_commit_callbacks)
    assert licence_verify(key=key, device_id="laptop").status == "suspended"
    move(sub, "canceled", django_capture_on_commit_callbacks)
    answer = licence_verify(key=key, device_id="laptop")
    assert (answer.status, answer.plan, answer.seats_allowed) == ("revoked", None, None)
    assert LicenceKey.objects.filter(subscription=sub).count() == 2  # old + rotated
    assert (
        not LicenceKey.objects.filter(subscription=sub)
        .exclude(status="revoked")
        .exists()
    )


def test_plan_change_brings_its_seat_count(django_capture_on_commit_callbacks):
    sub = SubscriptionFactory(status="incomplete", price__plan__features={"devices": 1})
    move(sub, "active", django_capture_on_commit_callbacks)
    bigger = PlanFactory(features={"devices": 5})
    sub.price.plan = bigger
    sub.price.save()

    move(sub, "active", django_capture_on_commit_callbacks)

    assert LicenceKey.objects.get(subscription=sub).seats == 5


def _active_key(seats=2, user=None):
    sub = SubscriptionFactory(
        status="active",
        price__plan__features={"devices": seats},
        **({"user": user} if user else {}),
    )
    issued = licences.licence_issue(subscription_id=sub.pk, email_key=False)
    assert issued is not None
    return issued


def test_verify_new_device_beyond_seats_is_refused_known_device_is_not():
    issued = _active_key(seats=2)
    assert licence_verify(key=issued.key, device_id="a").seats_used == 1
    assert licence_verify(key=issued.key, device_id="b").seats_used == 2
    assert licence_verify(key=issued.key, device_id="a").seats_used == 2

    from apps.subscriptions.exceptions import SeatLimitReached

    with pytest.raises(SeatLimitReached) as exc:
        licence_verify(key=issued.key, device_id="c")
    assert exc.value.details == {"seats_used": 2, "seats_allowed": 2}


def test_release_frees_a_seat_and_rotate_revokes_at_once():
    issued = _active_key(seats=1)
    licence_verify(key=issued.key, device_id="a")
    device = LicenceDevice.objects.get(device_id="a")

    licences.licence_device_release(
        user=issued.licence.user, licence_id=issued.licence.pk, device_pk=device.pk
    )
    assert licence_verify(key=issued.key, device_id="b").status == "valid"

    new = licences.licence_rotate(
        user=issued.licence.user, licence_id=issued.licence.pk
    )
    assert licence_verify(key=issued.key, device_id="b").status == "revoked"
    assert licence_verify(key=new.key, device_id="b").status == "valid"
    assert new.licence.seats == 1
    with pytest.raises(InvalidTransition):
        licences.licence_rotate(user=issued.licence.user, licence_id=issued.licence.pk)


def test_another_users_licence_is_not_found():
    issued = _active_key()
    with pytest.raises(LicenceNotFound):
        licences.licence_rotate(user=UserFactory(), licence_id=issued.licence.pk)
    with pytest.raises(LicenceNotFound):
        licences.licence_device_release(
            user=UserFactory(), licence_id=issued.licence.pk, device_pk=1
        )
