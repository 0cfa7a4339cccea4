"""Merge the session's guest cart into the shopper's cart when they sign in."""

from allauth.account.signals import user_logged_in
from django.contrib import messages
from django.dispatch import receiver

from apps.carts import selectors, services
from apps.carts.exceptions import CartNotFound

SESSION_KEY = "cart_id"


@receiver(user_logged_in, dispatch_uid="carts_merge_guest_cart_on_login")
def merge_guest_cart_on_login(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is None:
        return
    cart_id = session.get(SESSION_KEY)
    if not cart_id:
        return
    session.pop(SESSION_KEY, None)
    try:
        guest = selectors.cart_get(cart_id=cart_id, user=user)
    except CartNotFound:
        return
    result = services.cart_merge(source=guest, user=user)
    for notice in result.notices:
        messages.warning(request, notice.message)
    if result.notices:
        messages.info(request, "We merged the cart from before you signed in.")
