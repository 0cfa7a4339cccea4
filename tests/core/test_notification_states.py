"""The notification machine over every (from, to) pair: a sent mail never goes
back to sending, so a redelivered task cannot mail it twice."""

import itertools

import pytest

from apps.core.exceptions import InvalidTransition
from apps.core.models import Notification
from apps.core.notifications import NOTIFICATION_STATES

pytestmark = pytest.mark.django_db

S = Notification.Status
ALLOWED = {
    (S.PENDING, S.SENDING),
    (S.SENDING, S.SENT),
    (S.SENDING, S.FAILED),
    (S.FAILED, S.SENDING),
}


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(S.values, repeat=2))
)
def test_notification_states_every_pair(source, target):
    notification = Notification.objects.create(
        kind="test",
        recipient="a@example.com",
        idempotency_key=f"pair:{source}:{target}",
        subject="Hello",
        body_text="Hello",
        status=source,
    )

    if source == target:
        assert NOTIFICATION_STATES.move(notification, target) is False
    elif (source, target) in ALLOWED:
        assert NOTIFICATION_STATES.move(notification, target) is True
        notification.refresh_from_db()
        assert notification.status == target
        assert (notification.sent_at is not None) == (target == S.SENT)
    else:
        with pytest.raises(InvalidTransition) as refused:
            NOTIFICATION_STATES.move(notification, target)
        assert refused.value.status_code == 409
        notification.refresh_from_db()
        assert notification.status == source
