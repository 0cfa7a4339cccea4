"""The order page's own views: ship, refund, note, invoice and packing slip
PDFs, and the CSV export of the filtered changelist."""

import csv
from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from apps.checkout import selectors, services
from apps.checkout.forms import FulfilForm
from apps.checkout.models import Order
from apps.checkout.services import documents, fulfilment
from apps.core.admin_display import money_text
from apps.core.exceptions import ApplicationError
from apps.core.money import Money

CSV_HEADER = [
    "number",
    "created_at",
    "status",
    "customer",
    "email",
    "items",
    "fulfilment",
    "currency",
    "total",
    "refunded",
]


REFUND_DESTINATIONS = {
    # choice: (credit_first, card_as_credit)
    "split": (True, False),
    "card_first": (False, False),
    "store_credit": (True, True),
}


class RefundForm(forms.Form):
    restock = forms.BooleanField(required=False, label="Put the units back in stock")
    destination = forms.ChoiceField(
        choices=[
            ("split", "As paid: store credit back to the wallet first, then the card"),
            ("card_first", "To the card first, then store credit to the wallet"),
            ("store_credit", "All as store credit (the card is not refunded)"),
        ],
        initial="split",
        required=False,  # as paid
        label="Refund to",
    )

    def split_choice(self) -> tuple[bool, bool]:
        """(credit_first, card_as_credit) for ``order_refund``."""
        return REFUND_DESTINATIONS[self.cleaned_data["destination"] or "split"]

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            left = line.quantity - line.refunded_quantity
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                min_value=0,
                max_value=left,
                initial=0,
                required=False,
                label=f"{line.sku} (up to {left})",
            )

    def quantities(self) -> dict[int, int]:
        return {
            line.pk: self.cleaned_data.get(f"line_{line.pk}") or 0
            for line in self.lines
            if self.cleaned_data.get(f"line_{line.pk}")
        }


class ShipForm(FulfilForm):
    """Carrier, tracking and how many units of each line go in this parcel."""

    def __init__(self, *args, lines=(), left=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if (left or {}).get(line.pk, 0) > 0]
        for line in self.lines:
            units = left[line.pk]
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                min_value=0,
                max_value=units,
                initial=units,
                required=False,
                label=f"{line.title} ({line.sku}), {units} left to ship",
            )

    def quantities(self) -> dict[int, int] | None:
        """Units per line; None (all that is left) when no line was posted."""
        if not any(f"line_{line.pk}" in self.data for line in self.lines):
            return None
        return {
            line.pk: self.cleaned_data.get(f"line_{line.pk}") or 0
            for line in self.lines
        }


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Add an internal note",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class OrderPageViewsMixin(_AdminBase):
    """Views mixed into OrderAdmin (``self`` is the ModelAdmin)."""

    def _order_for_change(self, request, order_id) -> Order:
        """The order a staff action changes: 403 without the order change
        permission (checked first, so existence does not leak), 404 for an
        unknown id."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(Order, pk=order_id)

    def _back_to(self, order: Order):
        return redirect(reverse("admin:checkout_order_change", args=[order.pk]))

    def fulfil_view(self, request, order_id):
        order = self._order_for_change(request, order_id)
        left = fulfilment.order_line_quantities_unshipped(order=order)
        form = ShipForm(
            request.POST if request.method == "POST" else None,
            lines=order.lines.all(),
            left=left,
        )
        if request.method == "POST" and form.is_valid():
            try:
                fulfilment.fulfilment_create(
                    order_id=order.pk,
                    quantities=form.quantities(),
                    carrier=form.cleaned_data["carrier"],
                    tracking_number=form.cleaned_data["tracking_number"],
                    actor=request.user,
                )
                order.refresh_from_db()
                self.message_user(
                    request,
                    f"Order {order.number}: parcel recorded, the customer is "
                    f"emailed the tracking number; order is {order.status}.",
                )
                return self._back_to(order)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        return render(
            request,
            "checkout/admin/order_action.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "order": order,
                "title": "Ship items",
                "submit_label": "Record the parcel and email the customer",
                "opts": self.model._meta,
            },
        )

    def refund_view(self, request, order_id):
        order = self._order_for_change(request, order_id)
        form = RefundForm(
            request.POST if request.method == "POST" else None, lines=order.lines.all()
        )
        if request.method == "POST" and form.is_valid():
            try:
                credit_first, card_as_credit = form.split_choice()
                refunded = services.order_refund(
                    order=order,
                    actor=request.user,
                    request=request,
                    line_quantities=form.quantities() or None,
                    restock=form.cleaned_data["restock"],
                    credit_first=credit_first,
                    card_as_credit=card_as_credit,
                )
                amount = refunded.refunded_minor - order.refunded_minor
                self.message_user(
                    request,
                    f"Refunded {money_text(amount, order.currency)} on "
                    f"{order.number}; order is {refunded.status}.",
                )
                return self._back_to(order)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        left = money_text(order.total_minor - order.refunded_minor, order.currency)
        return render(
            request,
            "checkout/admin/order_action.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "order": order,
                "title": "Refund (leave all at 0 for a full refund)",
                "intro": f"Up to {left} can still be refunded"
                + (
                    f" ({money_text(order.credit_minor, order.currency)} of it "
                    "was paid with store credit)."
                    if order.credit_minor
                    else "."
                ),
                "submit_label": "Refund",
                "opts": self.model._meta,
            },
        )

    def note_view(self, request, order_id):
        order = self._order_for_change(request, order_id)
        if request.method != "POST":
            return self._back_to(order)
        form = NoteForm(request.POST)
        if form.is_valid():
            try:
                fulfilment.order_note_add(
                    order_id=order.pk,
                    author=request.user,
                    body=form.cleaned_data["body"],
                )
                self.message_user(request, "Note added.")
            except ApplicationError as exc:
                self.message_user(request, exc.message, level="ERROR")
        else:
            self.message_user(request, "Write something in the note.", level="ERROR")
        return self._back_to(order)

    def _pdf(self, request, order_id, build, name):
        if not self.has_view_permission(request):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        response = HttpResponse(build(order=order), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="{name}-{order.number}.pdf"'
        )
        return response

    def invoice_view(self, request, order_id):
        return self._pdf(request, order_id, documents.invoice_pdf, "invoice")

    def packing_slip_view(self, request, order_id):
        return self._pdf(request, order_id, documents.packing_slip_pdf, "packing-slip")

    def export_csv_view(self, request):
        """The changelist as filtered and searched on screen, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_HEADER)
        for order in queryset.iterator(chunk_size=500):
            writer.writerow(
                [
                    order.number,
                    order.created_at.isoformat(),
                    order.status,
                    _csv_safe(selectors.order_customer_name(order)),
                    _csv_safe(order.email),
                    order.item_count,
                    selectors.order_fulfilment_state(order),
                    order.currency,
                    Money(order.total_minor, order.currency).as_decimal(),
                    Money(order.refunded_minor, order.currency).as_decimal(),
                ]
            )
        return response


def _csv_safe(value: str) -> str:
    """Keep a spreadsheet from reading customer text as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
