"""Pages for a subscription's card: start a SetupIntent, confirm it, come back.

POST creates the SetupIntent (GET never does), the card page shows Stripe's
card element for it, and the return page reads the outcome back from Stripe
(the same service the API's confirm endpoint calls).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.billing.exceptions import PaymentRequestInvalid
from apps.billing.gateway import intents as gateway_intents
from apps.billing.gateway import subscriptions as gateway_subscriptions
from apps.core.exceptions import ApplicationError
from apps.subscriptions.exceptions import SetupIntentNotFound, SubscriptionNotFound
from apps.subscriptions.models import Customer
from apps.subscriptions.services import payment_method as card_services
from apps.subscriptions.views import _own, _user


def card_page_context(
    request: HttpRequest, *, subscription_id: int, setup_intent_id: str, secret: str
) -> dict[str, object]:
    return {
        "card_client_secret": secret,
        "publishable_key": gateway_subscriptions.publishable_key(),
        "stripe_js_url": settings.STRIPE_JS_URL,
        "card_return_url": request.build_absolute_uri(
            reverse(
                "subscriptions:card-return",
                kwargs={
                    "subscription_id": subscription_id,
                    "setup_intent_id": setup_intent_id,
                },
            )
        ),
    }


@login_required
@require_POST
def card_setup(request: HttpRequest, subscription_id: int) -> HttpResponse:
    try:
        setup = card_services.subscription_payment_method_setup(
            user=_user(request), subscription_id=subscription_id
        )
    except SubscriptionNotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:account")
    return redirect(
        "subscriptions:card",
        subscription_id=subscription_id,
        setup_intent_id=setup.setup_intent_id,
    )


@login_required
def card(
    request: HttpRequest, subscription_id: int, setup_intent_id: str
) -> HttpResponse:
    """Stripe's card element for one of the user's own SetupIntents (read only)."""
    sub = _own(request, subscription_id)
    customer = Customer.objects.filter(user=_user(request)).first()
    try:
        setup = gateway_intents.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    except PaymentRequestInvalid as exc:
        raise Http404 from exc
    if customer is None or setup.customer != customer.stripe_id:
        raise Http404
    context = card_page_context(
        request,
        subscription_id=sub.pk,
        setup_intent_id=setup.id,
        secret=setup.client_secret,
    )
    return render(request, "subscriptions/card.html", {"subscription": sub, **context})


@login_required
def card_return(
    request: HttpRequest, subscription_id: int, setup_intent_id: str
) -> HttpResponse:
    """Where Stripe.js lands after confirming the card: read Stripe, apply once."""
    try:
        sub = card_services.subscription_payment_method_confirm(
            user=_user(request),
            subscription_id=subscription_id,
            setup_intent_id=setup_intent_id,
        )
    except (SubscriptionNotFound, SetupIntentNotFound) as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:account")
    messages.success(
        request, f"Your subscription is now charged to {sub.payment_method_label}."
    )
    return redirect("subscriptions:account")
