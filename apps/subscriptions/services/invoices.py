"""Our Invoice rows follow Stripe's, fetched by id (never the event body)."""

from __future__ import annotations

from django.db import transaction

from apps.billing.gateway import subscriptions as gw
from apps.billing.gateway.subscriptions import InvoiceSnapshot
from apps.subscriptions.models import Customer, Invoice, InvoiceLine, Subscription
from apps.subscriptions.services import effects
from apps.subscriptions.services.sync import subscription_sync

FIELDS = (
    "number",
    "status",
    "currency",
    "subtotal_minor",
    "discount_minor",
    "tax_minor",
    "total_minor",
    "amount_due_minor",
    "amount_paid_minor",
    "period_start",
    "period_end",
    "paid_at",
    "billing_reason",
    "payment_intent_id",
    "hosted_invoice_url",
    "invoice_pdf",
)


def _is_renewal(invoice: Invoice, snap: InvoiceSnapshot) -> bool:
    if snap.billing_reason:
        return snap.billing_reason == "subscription_cycle"
    # localstripe sets no billing_reason: a paid invoice after the first one,
    # other than a plan change's (its proration lines give it away).
    if invoice.subscription_id is None or any(line.proration for line in snap.lines):
        return False
    return (
        Invoice.objects.filter(
            subscription_id=invoice.subscription_id, status=Invoice.Status.PAID
        )
        .exclude(pk=invoice.pk)
        .exists()
    )


def invoice_apply(*, snap: InvoiceSnapshot) -> Invoice | None:
    """Upsert the invoice and its lines; None when it is no user's of ours."""
    sub = (
        Subscription.objects.filter(stripe_id=snap.subscription_id).first()
        if snap.subscription_id
        else None
    )
    user_id = sub.user_id if sub else None
    if user_id is None:
        user_id = (
            Customer.objects.filter(stripe_id=snap.customer)
            .values_list("user_id", flat=True)
            .first()
        )
    if user_id is None:
        return None
    values = {name: getattr(snap, name) for name in FIELDS}
    values["issued_at"] = snap.created_at
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().filter(stripe_id=snap.id).first()
        was_paid = invoice is not None and invoice.status == Invoice.Status.PAID
        if invoice is None:
            invoice = Invoice(stripe_id=snap.id, user_id=user_id, subscription=sub)
        changed = [k for k, v in values.items() if getattr(invoice, k) != v]
        if invoice.pk and not changed:
            return invoice
        for name, value in values.items():
            setattr(invoice, name, value)
        invoice.full_clean()
        invoice.save()
        invoice.lines.all().delete()
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                stripe_id=line.id or f"{snap.id}-{n}",
                description=line.description[:500],
                amount_minor=line.amount_minor,
                currency=line.currency,
                quantity=line.quantity,
                proration=line.proration,
                stripe_price_id=line.price_id,
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for n, line in enumerate(snap.lines)
        )
        if (
            sub is not None
            and not was_paid
            and invoice.status == Invoice.Status.PAID
            and invoice.amount_paid_minor > 0
            and _is_renewal(invoice, snap)
        ):
            effects.renewed(sub, invoice)
    return invoice


def invoice_sync(*, stripe_id: str) -> Invoice | None:
    """Fetch the invoice from Stripe, upsert it, then its subscription."""
    snap = gw.invoice_retrieve(invoice_id=stripe_id)
    invoice = invoice_apply(snap=snap)
    if snap.subscription_id:
        sub = subscription_sync(
            stripe_id=snap.subscription_id, reason=f"invoice_{snap.status}"
        )
        if invoice is not None and sub is not None:
            effects.invoice_synced(invoice, sub)
    return invoice
