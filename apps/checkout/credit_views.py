"""Store credit on the payment page: how much to spend, and a gift card code
redeemed into the wallet and spent here."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from apps.checkout import services
from apps.checkout.forms import GiftCardCodeForm, StoreCreditForm
from apps.checkout.views import S, _checkout, _step_url, limit
from apps.core.exceptions import ApplicationError
from apps.core.money import Money, to_minor
from apps.core.ratelimit import rate_limited_page
from apps.wallets.throttling import gift_card_limit_hit


@require_POST
@limit
def checkout_store_credit(request, checkout_id):
    """Choose how much store credit to spend, then back to review and pay."""
    checkout = _checkout(request, checkout_id)
    form = StoreCreditForm(request.POST)
    if form.is_valid():
        amount = form.cleaned_data["amount"]
        try:
            services.checkout_set_credit(
                checkout=checkout,
                amount_minor=None
                if amount is None
                else to_minor(amount, checkout.cart.currency),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Enter an amount of store credit, or leave it empty.")
    return redirect(_step_url(checkout, S.PAYMENT))


@require_POST
@limit
def checkout_gift_card(request, checkout_id):
    """Redeem a gift card code into the wallet and spend the credit here.
    Counted against the same gift-card guessing limit as the redeem page."""
    checkout = _checkout(request, checkout_id)
    if (used := gift_card_limit_hit(request)) is not None:
        return rate_limited_page(request, used)
    form = GiftCardCodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a gift card code.")
        return redirect(_step_url(checkout, S.PAYMENT))
    try:
        entry = services.checkout_gift_card_apply(
            checkout=checkout, code=form.cleaned_data["code"], user=request.user
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        credited = Money(entry.amount_minor, entry.wallet.currency)
        messages.success(
            request, f"{credited.format()} was added to your store credit."
        )
    return redirect(_step_url(checkout, S.PAYMENT))
