from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.billing.gateway import subscriptions as gateway_subscriptions
from apps.core.exceptions import ApplicationError
from apps.coupons.exceptions import CouponNotApplicable, CouponNotFound
from apps.subscriptions import selectors, services
from apps.subscriptions.exceptions import (
    AlreadySubscribed,
    InvoiceNotFound,
    SubscriptionNotFound,
)
from apps.subscriptions.models import PlanPrice, Subscription, SubscriptionStatus
from apps.subscriptions.services import sync

if TYPE_CHECKING:
    from apps.accounts.models import User


def _user(request: Any) -> User:
    # Login is required on every view that calls this.
    return cast("User", request.user)


INTERVALS = {"month": "Monthly", "year": "Yearly"}


def pricing(request: HttpRequest) -> HttpResponse:
    interval = request.GET.get("interval", "month")
    if interval not in INTERVALS:
        interval = "month"
    data = selectors.pricing_page(interval=interval)
    return render(
        request,
        "subscriptions/pricing.html",
        {**data, "interval": interval, "intervals": INTERVALS},
    )


@login_required
def subscribe(request: HttpRequest, price_id: int) -> HttpResponse:
    """GET shows the plan; POST starts the subscription, then the card step."""
    price = get_object_or_404(
        PlanPrice.objects.select_related("plan"), pk=price_id, active=True
    )
    if not selectors.plan_is_available_to(plan=price.plan, user=request.user):
        raise PermissionDenied
    if request.method == "POST":
        coupon = request.POST.get("coupon", "").strip()[:64]
        try:
            start = services.subscription_create(
                user=_user(request), price_id=price.pk, coupon=coupon or None
            )
        except (CouponNotFound, CouponNotApplicable) as exc:
            context = {"price": price, "coupon": coupon, "coupon_error": exc.message}
            return render(request, "subscriptions/subscribe.html", context, status=400)
        except AlreadySubscribed:
            messages.info(request, "You already have a subscription.")
            return redirect("subscriptions:pricing")
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("subscriptions:subscribe", price_id=price.pk)
        return redirect("subscriptions:pay", subscription_id=start.subscription.pk)
    return render(request, "subscriptions/subscribe.html", {"price": price})


@login_required
def pay(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """The card step: Stripe's card element confirms the first payment."""
    sub = _own(request, subscription_id)
    if sub.status not in (SubscriptionStatus.INCOMPLETE, SubscriptionStatus.TRIALING):
        return redirect("subscriptions:done", subscription_id=sub.pk)
    # Read only: the secret lives at Stripe, our row is not touched here.
    snap = gateway_subscriptions.subscription_retrieve(subscription_id=sub.stripe_id)
    card: dict[str, object] = {}
    if snap.secret_kind == "setup_intent":  # noqa: S105 - a kind, not a secret
        # A trial: no charge now, the card is saved for the first renewal.
        from apps.subscriptions.card_views import card_page_context

        card = card_page_context(
            request,
            subscription_id=sub.pk,
            setup_intent_id=snap.client_secret.split("_secret_")[0],
            secret=snap.client_secret,
        )
    elif sub.status != SubscriptionStatus.INCOMPLETE:
        return redirect("subscriptions:done", subscription_id=sub.pk)
    return render(
        request,
        "subscriptions/pay.html",
        {
            **card,
            "subscription": sub,
            "client_secret": snap.client_secret,
            "kind": snap.secret_kind,
            # After any coupon; the price when Stripe did not say.
            "first_payment_minor": snap.latest_invoice_amount_due_minor
            if snap.latest_invoice_amount_due_minor is not None
            else sub.price.amount_minor,
            "publishable_key": gateway_subscriptions.publishable_key(),
            "stripe_js_url": settings.STRIPE_JS_URL,
            "return_url": request.build_absolute_uri(
                reverse("subscriptions:return", kwargs={"subscription_id": sub.pk})
            ),
        },
    )


@login_required
def confirmation_return(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Where Stripe.js lands after confirming: fetch Stripe's state, then show it.

    The same sync the webhook runs; whichever comes first wins, the other
    finds nothing to change.
    """
    sub = _own(request, subscription_id)
    if sub.stripe_id:
        sync.subscription_sync(stripe_id=sub.stripe_id, reason="confirmation_return")
    return redirect("subscriptions:done", subscription_id=sub.pk)


@login_required
def done(request: HttpRequest, subscription_id: int) -> HttpResponse:
    sub = _own(request, subscription_id)
    return render(request, "subscriptions/done.html", {"subscription": sub})


def _own(request: HttpRequest, subscription_id: int) -> Subscription:
    try:
        return selectors.subscription_get_for_user(
            user=_user(request), subscription_id=subscription_id
        )
    except SubscriptionNotFound as exc:
        raise Http404 from exc


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Plan, status, next renewal, and the cancel / resume actions."""
    sub = selectors.subscription_current_for_user(user=_user(request))
    invoices = list(selectors.invoice_list_for_user(user=_user(request))[:24])
    offered = selectors.plan_prices_assigned_to(user=_user(request))
    return render(
        request,
        "subscriptions/account.html",
        {
            "subscription": sub,
            "invoices": invoices,
            "offered_prices": offered,
            "licences": selectors.licence_list_for_user(user=_user(request)),
            "billing_portal": services.billing_portal_available(),
        },
    )


@login_required
@require_POST
def billing_portal(request: HttpRequest) -> HttpResponse:
    """Send the customer to Stripe's Billing Portal (real Stripe only)."""
    return_url = request.build_absolute_uri(reverse("subscriptions:account"))
    try:
        url = services.billing_portal_open(user=_user(request), return_url=return_url)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:account")
    return redirect(url)


@login_required
@require_POST
def cancel(request: HttpRequest, subscription_id: int) -> HttpResponse:
    at_period_end = request.POST.get("when", "period_end") != "now"
    try:
        services.subscription_cancel(
            user=_user(request),
            subscription_id=subscription_id,
            at_period_end=at_period_end,
        )
    except SubscriptionNotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Your subscription will end at the end of the period."
            if at_period_end
            else "Your subscription is cancelled.",
        )
    return redirect("subscriptions:account")


@login_required
@require_POST
def resume(request: HttpRequest, subscription_id: int) -> HttpResponse:
    try:
        services.subscription_resume(
            user=_user(request), subscription_id=subscription_id
        )
    except SubscriptionNotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your subscription continues.")
    return redirect("subscriptions:account")


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices = list(selectors.invoice_list_for_user(user=request.user)[:100])
    return render(request, "subscriptions/invoice_list.html", {"invoices": invoices})


@login_required
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Printable invoice: ours on localstripe, with Stripe's links when real."""
    try:
        invoice = selectors.invoice_get_for_user(
            user=request.user, invoice_id=invoice_id
        )
    except InvoiceNotFound as exc:
        raise Http404 from exc
    return render(request, "subscriptions/invoice_detail.html", {"invoice": invoice})
