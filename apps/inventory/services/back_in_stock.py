"""Back-in-stock: subscribe to a variant and send the alerts once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.notifications import notification_enqueue_template
from apps.inventory.exceptions import VariantUnavailable
from apps.inventory.models import BackInStockSubscription, Variant
from apps.inventory.selectors import variant_availability_map

if TYPE_CHECKING:
    # Inventory sits below accounts, so it names the user model the way Django
    # does: django-stubs' _AnyUser is AUTH_USER_MODEL | AnonymousUser (stub-only).
    from django.contrib.auth.models import _AnyUser


def back_in_stock_subscribe(
    *,
    variant_id: int,
    email: str,
    user: _AnyUser | None = None,
) -> BackInStockSubscription:
    """Ask for one email when the variant is back; subscribing twice is a no-op.

    Raise VariantUnavailable for unknown or inactive variants.
    """
    email = email.strip().lower()
    variant = Variant.objects.select_related("product").filter(pk=variant_id).first()
    if variant is None or not (variant.is_active and variant.product.is_active):
        raise VariantUnavailable(
            "This item is not available.", details={"variant_id": variant_id}
        )
    existing = BackInStockSubscription.objects.filter(
        variant=variant, email=email, sent_at__isnull=True
    ).first()
    if existing:
        return existing
    subscription = BackInStockSubscription(
        variant=variant,
        email=email,
        user=user if user is not None and user.is_authenticated else None,
    )
    subscription.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError:
        return BackInStockSubscription.objects.get(
            variant=variant, email=email, sent_at__isnull=True
        )
    return subscription


@transaction.atomic
def back_in_stock_alerts_send(*, variant_id: int) -> int:
    """Email every waiting subscriber once if the variant can be bought from stock.

    Each subscription is claimed with a conditional update and its email keyed
    on the subscription id, so a repeated receive or task run sends nothing new.
    Return the number of alerts queued.
    """
    availability = variant_availability_map(variant_ids=[variant_id]).get(variant_id)
    if availability is None or not availability.in_stock:
        return 0
    variant = Variant.objects.select_related("product").get(pk=variant_id)
    url = settings.SITE_URL.rstrip("/") + reverse(
        "inventory:product-detail", kwargs={"slug": variant.product.slug}
    )
    sent = 0
    now = timezone.now()
    pending = BackInStockSubscription.objects.filter(
        variant_id=variant_id, sent_at__isnull=True
    ).order_by("pk")
    for subscription in pending:
        claimed = BackInStockSubscription.objects.filter(
            pk=subscription.pk, sent_at__isnull=True
        ).update(sent_at=now)
        if not claimed:
            continue
        notification_enqueue_template(
            kind="inventory.back_in_stock",
            recipient=subscription.email,
            idempotency_key=f"inventory.back_in_stock:{subscription.pk}",
            template_prefix="inventory/email/back_in_stock",
            context={
                "product": variant.product,
                "variant": variant,
                "url": url,
                "available": availability.available,
            },
        )
        sent += 1
    return sent
