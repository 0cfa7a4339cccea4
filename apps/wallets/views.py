from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from apps.core.exceptions import ApplicationError
from apps.core.money import Money
from apps.core.ratelimit import rate_limited_page
from apps.wallets import selectors, services
from apps.wallets.throttling import gift_card_limit_hit


class GiftCardCodeForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Gift card code",
        help_text="16 letters and digits, as printed: XXXX-XXXX-XXXX-XXXX",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


@login_required
def wallet_detail(request):
    """The customer's store credit: balance, held credit and history."""
    wallets = selectors.wallet_list_for_user(user=request.user)
    return render(request, "wallets/wallet_detail.html", {"wallets": wallets})


def gift_card_balance(request):
    """Check a code without redeeming it. The POST writes nothing, so the
    answer is rendered directly; POST keeps codes out of URLs and logs."""
    form = GiftCardCodeForm(request.POST or None)
    card = None
    if request.method == "POST":
        used = gift_card_limit_hit(request)
        if used is not None:
            return rate_limited_page(request, used)
        if form.is_valid():
            try:
                card = services.gift_card_balance(code=form.cleaned_data["code"])
            except ApplicationError as exc:
                form.add_error("code", exc.message)
    balance = Money(card.balance_minor, card.currency) if card else None
    return render(
        request,
        "wallets/gift_card_balance.html",
        {"form": form, "card": card, "balance": balance},
    )


@login_required
def gift_card_redeem(request):
    form = GiftCardCodeForm(request.POST or None)
    if request.method == "POST":
        used = gift_card_limit_hit(request)
        if used is not None:
            return rate_limited_page(request, used)
        if form.is_valid():
            try:
                entry = services.gift_card_redeem(
                    code=form.cleaned_data["code"], user=request.user
                )
            except ApplicationError as exc:
                form.add_error("code", exc.message)
            else:
                credited = Money(entry.amount_minor, entry.wallet.currency)
                messages.success(
                    request, f"{credited.format()} was added to your store credit."
                )
                return redirect("wallets:wallet-detail")
    return render(request, "wallets/gift_card_redeem.html", {"form": form})
