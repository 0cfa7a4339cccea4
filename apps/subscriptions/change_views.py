"""The change-plan page: pick a price, see what it costs, confirm (no JS).

GET lists the prices the subscriber may move to; GET with ``?price=`` shows
the preview (an upgrade's amount due now, from Stripe's upcoming invoice; a
downgrade's date); POST applies it through the same service as the API.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.exceptions import ApplicationError
from apps.subscriptions import selectors, services
from apps.subscriptions.exceptions import SubscriptionNotFound
from apps.subscriptions.models import ScheduledChange
from apps.subscriptions.views import _own, _user


def _price_id(raw: str | None) -> int | None:
    # Also the preview's proration time: a positive whole number, or None.
    return int(raw) if raw and raw.isdigit() else None


@login_required
def change_plan(request: HttpRequest, subscription_id: int) -> HttpResponse:
    if request.method == "POST":
        return _apply(request, subscription_id)
    sub = _own(request, subscription_id)
    price_id = _price_id(request.GET.get("price"))
    preview = chosen = None
    if price_id is not None:
        try:
            preview = services.subscription_change_preview(
                user=_user(request), subscription_id=sub.pk, price_id=price_id
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            chosen = selectors.plan_price_get(price_id=price_id)
    options = selectors.plan_prices_for_change(subscription=sub, user=_user(request))
    return render(
        request,
        "subscriptions/change.html",
        {
            "subscription": sub,
            "options": options,
            "preview": preview,
            "chosen": chosen,
        },
    )


def _apply(request: HttpRequest, subscription_id: int) -> HttpResponse:
    price_id = _price_id(request.POST.get("price"))
    if price_id is None:
        messages.error(request, "Pick a plan first.")
        return redirect("subscriptions:change", subscription_id=subscription_id)
    try:
        result = services.subscription_change(
            user=_user(request),
            subscription_id=subscription_id,
            price_id=price_id,
            proration_date=_price_id(request.POST.get("proration_date")),
        )
    except SubscriptionNotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:change", subscription_id=subscription_id)
    if isinstance(result, ScheduledChange):
        messages.success(
            request,
            f"Your plan changes to {result.to_price.plan.name} on "
            f"{result.due_at:%d %B %Y}.",
        )
    else:
        messages.success(request, f"You are now on {result.price.plan.name}.")
    return redirect("subscriptions:account")
