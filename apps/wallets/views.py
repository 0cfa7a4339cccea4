from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from apps.wallets import selectors


@login_required
def wallet_detail(request):
    """The customer's store credit: balance, held credit and history."""
    wallets = selectors.wallet_list_for_user(user=request.user)
    return render(request, "wallets/wallet_detail.html", {"wallets": wallets})
