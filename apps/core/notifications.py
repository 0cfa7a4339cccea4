"""The one path every email takes: render, record, queue, send once.

Callers use :func:`notification_enqueue`; it is safe to call twice with the
same key (the second call returns the first row and queues nothing).
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template import Context, TemplateDoesNotExist, engines
from django.template.loader import render_to_string
from django.utils import timezone

from apps.core.claims import claim, claimable, lease_release_fields, worker_id
from apps.core.exceptions import TransientError
from apps.core.inserts import insert_unless_taken
from apps.core.models import Notification
from apps.core.queue import enqueue_on_commit
from apps.core.state import StateMachine

logger = logging.getLogger(__name__)

S = Notification.Status
# A claim (apps.core.claims) moves pending or failed rows to sending in one
# conditional UPDATE; a lapsed lease lets another worker claim a sending row.
NOTIFICATION_STATES: StateMachine[Notification] = StateMachine(
    model=Notification,
    field="status",
    name="notification",
    transitions={
        S.PENDING: {S.SENDING},
        S.SENDING: {S.SENT, S.FAILED},
        S.FAILED: {S.SENDING},
        S.SENT: set(),
    },
    stamps={S.SENT: "sent_at"},
)

# Longer than any SMTP timeout, so a live send is never taken over.
SENDING_LEASE = timedelta(minutes=15)


def render_email(template_prefix: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Render `<prefix>_subject.txt`, `<prefix>_message.txt` and optional `.html`.

    The subject is a plain-text header: rendered without HTML escaping, so a
    plan called "Studio & Co" is not mailed as "Studio &amp; Co".
    """
    # The Django backend's Engine renders a Context with autoescape off.
    engine = engines["django"].engine  # type: ignore[attr-defined]
    subject_template = engine.get_template(f"{template_prefix}_subject.txt")
    subject = " ".join(
        subject_template.render(Context(context, autoescape=False)).split()
    )
    text = render_to_string(f"{template_prefix}_message.txt", context)
    html: str
    try:
        html = render_to_string(f"{template_prefix}_message.html", context)
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html


def notification_enqueue(
    *,
    kind: str,
    recipient: str,
    idempotency_key: str,
    subject: str,
    body_text: str,
    body_html: str = "",
) -> Notification:
    """Record a notification and queue its delivery after the transaction commits.

    A second call with the same idempotency key returns the existing row.
    """
    from apps.core.tasks import send_notification

    notification = Notification(
        kind=kind,
        recipient=recipient,
        idempotency_key=idempotency_key[:255],
        subject=subject[:255],
        body_text=body_text,
        body_html=body_html,
    )
    # One statement: a taken key is reported, not raised, so no savepoint.
    if not insert_unless_taken(notification, unique=("idempotency_key",)):
        return Notification.objects.get(idempotency_key=idempotency_key[:255])
    # A broker outage is logged, not raised: notifications_requeue_stuck picks
    # the row up later.
    enqueue_on_commit(send_notification, notification.pk)
    return notification


def notification_enqueue_template(
    *,
    kind: str,
    recipient: str,
    idempotency_key: str,
    template_prefix: str,
    context: dict[str, Any],
) -> Notification:
    """Render ``template_prefix`` with ``context`` and enqueue it (see above)."""
    subject, text, html = render_email(template_prefix, context)
    return notification_enqueue(
        kind=kind,
        recipient=recipient,
        idempotency_key=idempotency_key,
        subject=subject,
        body_text=text,
        body_html=html,
    )


# A row untouched this long in pending/failed was never queued (broker down at
# commit) or ran out of retries; SENDING rows wait for their lease to lapse.
REQUEUE_AFTER = timedelta(minutes=10)
REQUEUE_MAX_ATTEMPTS = 20


def notifications_requeue_stuck(*, now=None) -> int:
    """Queue delivery again for notifications nobody will otherwise send.

    Safe to run often (beat): delivery claims the row, so a notification
    queued twice is still sent once. Return how many were queued.
    """
    from apps.core.tasks import send_notification

    now = now or timezone.now()
    stuck = Q(
        status__in=[Notification.Status.PENDING, Notification.Status.FAILED],
        updated_at__lt=now - REQUEUE_AFTER,
    ) | (Q(status=Notification.Status.SENDING) & claimable(now))
    ids = list(
        Notification.objects.filter(stuck, attempts__lt=REQUEUE_MAX_ATTEMPTS)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        enqueue_on_commit(send_notification, pk)
    return len(ids)


def notification_deliver(*, notification_id: int) -> Notification:
    """Send one notification unless it was already sent.

    The row is claimed with a lease (apps.core.claims) so two workers running
    the same task (broker redelivery) cannot both send it, and a worker that
    died mid-send leaves a lease that lapses after SENDING_LEASE. Raise
    TransientError when the mail backend fails, so the task retries with
    backoff.
    """
    unsent = Notification.objects.filter(pk=notification_id).exclude(
        status=Notification.Status.SENT
    )
    claimed = claim(
        unsent,
        worker=worker_id(),
        lease=SENDING_LEASE,
        limit=1,
        status=Notification.Status.SENDING,
        updated_at=timezone.now(),
    )
    if not claimed:
        return Notification.objects.get(pk=notification_id)
    (notification,) = claimed

    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        headers={"X-Notification-Key": notification.idempotency_key},
    )
    if notification.body_html:
        message.attach_alternative(notification.body_html, "text/html")
    notification.attempts += 1
    released = lease_release_fields(notification)
    try:
        message.send()
    except Exception as exc:
        notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        NOTIFICATION_STATES.move(
            notification, S.FAILED, also_update=[*released, "attempts", "last_error"]
        )
        logger.warning(
            "notification %s failed: %s", notification.pk, notification.last_error
        )
        raise TransientError(notification.last_error) from exc
    notification.last_error = ""
    NOTIFICATION_STATES.move(
        notification, S.SENT, also_update=[*released, "attempts", "last_error"]
    )
    return notification
