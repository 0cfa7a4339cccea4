"""Order pages: the guest's signed link (and confirmation), a signed-in
shopper's order history and detail, reorder and invoice PDF."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import services as account_services
from apps.checkout import selectors
from apps.checkout.exceptions import OrderNotFound
from apps.checkout.forms import GuestAccountForm
from apps.checkout.models import Order
from apps.checkout.services import documents
from apps.checkout.services.customer import order_link_user, order_reorder
from apps.checkout.services.orders import order_number_from_token


def _own_order(request, number: str) -> Order:
    """A signed-in shopper's order; 404 for anyone else, signed in or not."""
    try:
        return selectors.order_get_for_user(user=request.user, number=number)
    except OrderNotFound:
        raise Http404("No such order") from None


def _guest_order(token: str) -> Order:
    number = order_number_from_token(token)
    if number is None:
        raise Http404("No such order")
    try:
        return selectors.order_get_by_number(number=number)
    except OrderNotFound:
        raise Http404("No such order") from None


def _page(request, order: Order, **extra) -> HttpResponse:
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "refunds": list(selectors.order_refunds(order=order)),
        "fulfilments": list(selectors.order_fulfilments(order_id=order.pk)),
        **extra,
    }
    return render(request, "checkout/order_detail.html", context)


def _offers_account(request, order: Order) -> bool:
    """Offer an account only to the browser that placed this guest order.

    The signed link alone is not enough (it travels in an email that may be
    forwarded): the order's cart must be this session's cart.
    """
    return (
        not request.user.is_authenticated
        and order.user_id is None
        and order.cart_id is not None
        and request.session.get("cart_id") == str(order.cart_id)
        and order.status not in (Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED)
    )


@require_GET
def order_guest(request, token):
    """The confirmation page and the signed link in the confirmation email."""
    order = _guest_order(token)
    offer = _offers_account(request, order)
    return _page(
        request,
        order,
        confirmation=True,
        offer_account=offer,
        account_form=GuestAccountForm(email=order.email) if offer else None,
        token=token,
    )


@require_POST
def order_guest_account(request, token):
    """Create an account from the confirmation page and link the order to it."""
    order = _guest_order(token)
    if not _offers_account(request, order):
        raise Http404("No such order")
    form = GuestAccountForm(request.POST, email=order.email)
    if not form.is_valid():
        return _page(
            request,
            order,
            confirmation=True,
            offer_account=True,
            account_form=form,
            token=token,
        )
    user = account_services.account_create_for_email(
        email=order.email, password=form.cleaned_data["password1"]
    )
    if user is None:
        messages.info(
            request,
            f"{order.email} already has an account: log in and your orders "
            "placed with that address are in your order history.",
        )
        return redirect("account_login")
    order_link_user(order=order, user=user)
    account_services.account_confirmation_send(request=request, user=user)
    messages.success(
        request,
        f"Account created. Confirm your address with the link we sent to "
        f"{order.email}, then log in: this order (and your earlier orders with "
        "that address) are in your order history.",
    )
    return redirect(request.path.rsplit("account/", 1)[0])


@login_required
@require_GET
def order_list(request):
    orders = selectors.order_list_for_user(user=request.user)
    return render(request, "checkout/order_list.html", {"orders": orders})


@require_GET
def order_detail(request, number):
    return _page(request, _own_order(request, number), account=True)


@login_required
@require_POST
def order_reorder_view(request, number):
    result = order_reorder(order=_own_order(request, number), user=request.user)
    if result.added:
        count = len(result.added)
        messages.success(
            request,
            f"Added {count} item{'s' if count != 1 else ''} from order {number} "
            "to your cart.",
        )
    for title, reason in result.skipped:
        messages.warning(request, f"{title} was not added: {reason}")
    return redirect("carts:cart-detail")


@login_required
@require_GET
def order_invoice(request, number):
    order = _own_order(request, number)
    response = HttpResponse(
        documents.invoice_pdf(order=order), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="invoice-{order.number}.pdf"'
    return response
