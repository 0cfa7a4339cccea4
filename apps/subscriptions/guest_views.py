"""Pages of the guest purchase: email form, payment, status, magic sign-in."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.tokens import default_token_generator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from apps.accounts.models import User
from apps.billing.gateway import subscriptions as gateway_subscriptions
from apps.core.exceptions import ApplicationError
from apps.core.ratelimit import rate_limit
from apps.subscriptions.exceptions import SubscribeFlowNotFound
from apps.subscriptions.licence_models import SubscribeFlow
from apps.subscriptions.models import PlanPrice
from apps.subscriptions.services import guest_flow


class GuestEmailForm(forms.Form):
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="Your licence key and a sign-in link go to this address.",
    )


@rate_limit("subscribe-guest", methods=["POST"])
def start(request: HttpRequest, price_id: int) -> HttpResponse:
    price = get_object_or_404(
        PlanPrice.objects.select_related("plan"), pk=price_id, active=True
    )
    form = GuestEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            flow_start = guest_flow.subscribe_flow_start(
                email=form.cleaned_data["email"], price_id=price.pk
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("subscriptions:guest-start", price_id=price.pk)
        return redirect("subscriptions:guest-flow", token=flow_start.flow.token)
    return render(
        request, "subscriptions/guest_start.html", {"price": price, "form": form}
    )


def _flow(token: object) -> SubscribeFlow:
    try:
        return guest_flow.subscribe_flow_get(token=str(token))
    except SubscribeFlowNotFound as exc:
        raise Http404 from exc


def status(request: HttpRequest, token: object) -> HttpResponse:
    """Pay while awaiting payment; afterwards, where the purchase stands."""
    flow = _flow(token)
    context: dict[str, object] = {"flow": flow, "price": flow.price}
    if flow.status == SubscribeFlow.Status.AWAITING_PAYMENT:
        # Read only: the secret lives at Stripe.
        snap = gateway_subscriptions.subscription_retrieve(
            subscription_id=flow.stripe_subscription_id
        )
        context.update(
            client_secret=snap.client_secret,
            kind=snap.secret_kind,
            publishable_key=gateway_subscriptions.publishable_key(),
            stripe_js_url=settings.STRIPE_JS_URL,
            return_url=request.build_absolute_uri(
                reverse("subscriptions:guest-return", kwargs={"token": flow.token})
            ),
        )
    return render(request, "subscriptions/guest_flow.html", context)


def confirmation_return(request: HttpRequest, token: object) -> HttpResponse:
    """Where Stripe.js lands after confirming (as the signed-in return does)."""
    flow = _flow(token)
    guest_flow.subscribe_flow_payment_check(token=flow.token)
    return redirect("subscriptions:guest-flow", token=flow.token)


def magic_sign_in(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """GET asks; POST signs in (a link prefetcher must not spend the link)."""
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, User.DoesNotExist):
        user = None
    valid = user is not None and default_token_generator.check_token(user, token)
    if request.method == "POST" and valid and user is not None:
        from allauth.account.models import EmailAddress

        # Following the emailed link proves the address is theirs.
        EmailAddress.objects.filter(user=user, email__iexact=user.email).update(
            verified=True
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("subscriptions:account")
    return render(
        request,
        "subscriptions/guest_sign_in.html",
        {"valid": valid},
        status=200 if valid else 400,
    )
