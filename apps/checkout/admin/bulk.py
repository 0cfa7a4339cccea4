"""Bulk order actions that move money, ship parcels or send mail.

Each first answers a confirmation page listing the selected orders and the
amounts involved (nothing changes on that request); the page posts back with
``confirm=yes`` and only then the action calls its service for each order and
reports, order by order, what it did and what it skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from apps.checkout import services
from apps.checkout.models import Order
from apps.checkout.services import fulfilment
from apps.core.admin_display import money_text
from apps.core.exceptions import ApplicationError

REFUNDABLE = (
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.PARTIALLY_REFUNDED,
)

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass
class BulkRow:
    order: Order
    amount_minor: int
    problem: str = ""

    @property
    def amount(self) -> str:
        return money_text(self.amount_minor, self.order.currency)


@dataclass(frozen=True)
class PerOrderField:
    label: str
    prefix: str


class BulkShipForm(forms.Form):
    carrier = forms.CharField(max_length=64, required=False)


def is_confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirm") == "yes"


def totals_by_currency(rows: list[BulkRow]) -> list[str]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        if not row.problem:
            totals[row.order.currency] += row.amount_minor
    return [money_text(amount, currency) for currency, amount in sorted(totals.items())]


def confirmation_page(
    model_admin: Any,
    request: HttpRequest,
    queryset: Any,
    *,
    action: str,
    title: str,
    intro: str,
    verb: str,
    submit_label: str,
    rows: list[BulkRow],
    amount_heading: str = "Amount",
    form: forms.Form | None = None,
    per_order_field: PerOrderField | None = None,
    show_totals: bool = True,
) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "verb": verb,
        "submit_label": submit_label,
        "rows": rows,
        "included": [row for row in rows if not row.problem],
        "amount_heading": amount_heading,
        "total_lines": totals_by_currency(rows) if show_totals else [],
        "form": form,
        "per_order_field": per_order_field,
        "queryset": queryset,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/checkout/order/bulk_confirm.html", context)


def report(
    model_admin: Any,
    request: HttpRequest,
    *,
    done: list[str],
    skipped: list[str],
    verb: str,
) -> None:
    """Say what the action did, then what it did not do and why."""
    if done:
        model_admin.message_user(
            request, f"{verb.capitalize()} {len(done)} order(s): {'; '.join(done)}."
        )
    if skipped:
        model_admin.message_user(
            request, f"Not {verb}: {'; '.join(skipped)}.", level=messages.ERROR
        )
    if not done and not skipped:
        model_admin.message_user(request, "Nothing was selected.", messages.WARNING)


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class OrderBulkActionsMixin(_AdminBase):
    """Actions mixed into OrderAdmin (``self`` is the ModelAdmin)."""

    @admin.action(description="Resend the confirmation email…", permissions=["change"])
    def resend_confirmation(self, request, queryset):
        rows = [
            BulkRow(
                order,
                order.total_minor,
                "" if order.status != Order.Status.PENDING_PAYMENT else "not paid",
            )
            for order in queryset.order_by("pk")
        ]
        if not is_confirmed(request):
            return confirmation_page(
                self,
                request,
                queryset,
                action="resend_confirmation",
                title="Resend order confirmations",
                intro="Each customer below gets their order confirmation again.",
                verb="emailed",
                submit_label="Yes, send the emails",
                rows=rows,
                amount_heading="Order total",
                show_totals=False,
            )
        done, skipped = [], []
        for row in rows:
            if row.problem:
                skipped.append(f"{row.order.number} ({row.problem})")
                continue
            services.order_confirmation_send(row.order, resend=True)
            done.append(f"{row.order.number} to {row.order.email}")
        report(self, request, done=done, skipped=skipped, verb="emailed")
        return None

    @admin.action(
        description="Mark fulfilled (ship what is left)…", permissions=["change"]
    )
    def mark_fulfilled(self, request, queryset):
        rows = []
        for order in queryset.order_by("pk"):
            left = fulfilment.order_line_quantities_unshipped(order=order)
            problem = ""
            if order.status not in fulfilment.SHIPPABLE_STATUSES:
                problem = f"cannot ship a {order.get_status_display().lower()} order"
            elif not any(units > 0 for units in left.values()):
                problem = "nothing left to ship"
            rows.append(BulkRow(order, order.total_minor, problem))
        form = BulkShipForm(request.POST if is_confirmed(request) else None)
        per_order = PerOrderField(label="Tracking number", prefix="tracking_")
        if not is_confirmed(request) or not form.is_valid():
            return confirmation_page(
                self,
                request,
                queryset,
                action="mark_fulfilled",
                title="Ship and mark fulfilled",
                intro=(
                    "Every unit left to ship on each order below goes in one "
                    "parcel; the customer is emailed; the order becomes fulfilled."
                ),
                verb="shipped",
                submit_label="Yes, ship them and email the customers",
                rows=rows,
                amount_heading="Order total",
                form=form,
                per_order_field=per_order,
            )
        done, skipped = [], []
        for row in rows:
            if row.problem:
                skipped.append(f"{row.order.number} ({row.problem})")
                continue
            try:
                fulfilment.fulfilment_create(
                    order_id=row.order.pk,
                    carrier=form.cleaned_data["carrier"],
                    tracking_number=request.POST.get(
                        f"{per_order.prefix}{row.order.pk}", ""
                    ),
                    actor=request.user,
                )
                done.append(row.order.number)
            except ApplicationError as exc:
                skipped.append(f"{row.order.number} ({exc.message})")
        report(self, request, done=done, skipped=skipped, verb="shipped")
        return None

    @admin.action(description="Refund in full…", permissions=["change"])
    def refund_in_full(self, request, queryset):
        rows = []
        for order in queryset.order_by("pk"):
            left = order.total_minor - order.refunded_minor
            problem = ""
            if order.status not in REFUNDABLE:
                problem = (
                    f"a {order.get_status_display().lower()} order is not refundable"
                )
            elif left <= 0:
                problem = "nothing left to refund"
            rows.append(BulkRow(order, left, problem))
        if not is_confirmed(request):
            return confirmation_page(
                self,
                request,
                queryset,
                action="refund_in_full",
                title="Refund in full",
                intro=(
                    "The amount left on each order below goes back to the "
                    "customer's card at Stripe. This cannot be undone."
                ),
                verb="refunded",
                submit_label="Yes, refund these amounts",
                rows=rows,
                amount_heading="To refund",
            )
        done, skipped = [], []
        for row in rows:
            if row.problem:
                skipped.append(f"{row.order.number} ({row.problem})")
                continue
            try:
                after = services.order_refund(
                    order=row.order, actor=request.user, request=request
                )
                amount = after.refunded_minor - row.order.refunded_minor
                done.append(
                    f"{row.order.number} {money_text(amount, row.order.currency)}"
                )
            except ApplicationError as exc:
                skipped.append(f"{row.order.number} ({exc.message})")
        report(self, request, done=done, skipped=skipped, verb="refunded")
        return None
