"""The page an emailed link opens: complete 3-D Secure for a failed renewal."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.billing.gateway import invoices as gw_invoices
from apps.billing.gateway import subscriptions as gateway_subscriptions
from apps.billing.gateway.types import IntentStatus
from apps.core.exceptions import ApplicationError
from apps.dunning import selectors, services


@login_required
def case_pay(request: HttpRequest, case_id: int) -> HttpResponse:
    """Show the unpaid invoice; Stripe.js completes the bank's 3-D Secure step."""
    case = selectors.case_get_for_user(user_id=request.user.pk, case_id=case_id)
    # Read only: the client secret lives at Stripe, nothing is written here.
    payment = gw_invoices.invoice_payment_retrieve(invoice_id=case.invoice.stripe_id)
    return render(
        request,
        "dunning/case_pay.html",
        {
            "case": case,
            "payment": payment,
            "needs_action": payment.payment_intent_status
            == IntentStatus.REQUIRES_ACTION,
            "publishable_key": gateway_subscriptions.publishable_key(),
            "stripe_js_url": settings.STRIPE_JS_URL,
            "done_url": reverse("dunning:case-paid", kwargs={"case_id": case.pk}),
        },
    )


@login_required
@require_POST
def case_paid(request: HttpRequest, case_id: int) -> HttpResponse:
    """Where the page posts after Stripe.js confirmed: read Stripe, then show it."""
    case = selectors.case_get_for_user(user_id=request.user.pk, case_id=case_id)
    try:
        case = services.case_payment_check(case_id=case.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dunning:case-pay", case_id=case.pk)
    if case.status == case.Status.RECOVERED:
        messages.success(request, "Thank you: your payment went through.")
        return redirect("subscriptions:account")
    messages.error(request, "The payment is not complete yet.")
    return redirect("dunning:case-pay", case_id=case.pk)
