"""The one path every email takes: render, record, queue, send once.

Callers use :func:`notification_enqueue`; it is safe to call twice with the
same key (the second call returns the first row and queues nothing).
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from apps.core.exceptions import TransientError
from apps.core.models import Notification
from apps.core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

# Longer than any SMTP timeout, so a live send is never taken over.
SENDING_LEASE = timedelta(minutes=15)


def render_email(template_prefix: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Render `<prefix>_subject.txt`, `<prefix>_message.txt` and optional `.html`."""
    subject = " ".join(
        render_to_string(f"{template_prefix}_subject.txt", context).split()
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

    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                kind=kind,
                recipient=recipient,
                idempotency_key=idempotency_key[:255],
                subject=subject[:255],
                body_text=body_text,
                body_html=body_html,
            )
    except IntegrityError:
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
# commit) or ran out of retries; SENDING rows follow SENDING_LEASE.
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
    ) | Q(status=Notification.Status.SENDING, updated_at__lt=now - SENDING_LEASE)
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

    The row is claimed with a conditional update so two workers running the
    same task (broker redelivery) cannot both send it. Raise TransientError
    when the mail backend fails, so the task retries with backoff.
    """
    now = timezone.now()
    claimable = Q(
        status__in=[Notification.Status.PENDING, Notification.Status.FAILED]
    ) | Q(
        # A worker that died mid-send leaves the row in `sending`; once the
        # lease is over, a redelivered task may take it over.
        status=Notification.Status.SENDING,
        updated_at__lt=now - SENDING_LEASE,
    )
    claimed = Notification.objects.filter(claimable, pk=notification_id).update(
        status=Notification.Status.SENDING, updated_at=now
    )
    notification = Notification.objects.get(pk=notification_id)
    if not claimed:
        return notification

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
    try:
        message.send()
    except Exception as exc:
        notification.status = Notification.Status.FAILED
        notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        notification.save(
            update_fields=["status", "attempts", "last_error", "updated_at"]
        )
        logger.warning(
            "notification %s failed: %s", notification.pk, notification.last_error
        )
        raise TransientError(notification.last_error) from exc
    notification.status = Notification.Status.SENT
    notification.sent_at = timezone.now()
    notification.last_error = ""
    notification.save(
        update_fields=["status", "attempts", "last_error", "sent_at", "updated_at"]
    )
    return notification
