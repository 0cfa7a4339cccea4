"""Checkout pages: one page per step, POST/redirect/GET, work without
JavaScript except the card form (Stripe's card Element needs Stripe.js)."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from apps.accounts import selectors as account_selectors
from apps.carts import selectors as cart_selectors
from apps.carts.exceptions import CartNotFound
from apps.checkout import selectors, services
from apps.checkout.exceptions import (
    CheckoutNotFound,
    ShippingMethodLapsed,
)
from apps.checkout.forms import (
    BillingForm,
    EmailForm,
    GiftCardCodeForm,
    GiftDeliveryForm,
    ShippingAddressForm,
    ShippingMethodForm,
    StoreCreditForm,
)
from apps.checkout.models import Checkout
from apps.checkout.services.orders import order_public_path
from apps.core.exceptions import ApplicationError, ValidationFailed
from apps.core.ratelimit import rate_limit, rate_limited_page
from apps.core.ratelimit import usage as ratelimit_usage
from apps.inventory.exceptions import OutOfStock
from apps.wallets import selectors as wallet_selectors

S = Checkout.State
STEPS: list[tuple[str, str, str]] = [
    (S.IDENTIFICATION, "Email", "checkout:email"),
    (S.SHIPPING_ADDRESS, "Shipping address", "checkout:shipping-address"),
    (S.BILLING_ADDRESS, "Billing address", "checkout:billing-address"),
    (S.SHIPPING_METHOD, "Delivery", "checkout:shipping-method"),
    (S.PAYMENT, "Review & pay", "checkout:payment"),
]
_ORDER = [step for step, _label, _url in STEPS]
limit = rate_limit("checkout")
# Entering payment reserves stock and creates an intent: the API's budget
# (same group and key, so both count together), answered with a page of its
# own. Only POSTs start a payment, so only they count: reads never do.


def _payment_limited(request, checkout_id):
    """The 429 page (with the real time left) when this POST is over the
    payment limit, else None."""
    if request.method != "POST":
        return None
    used = ratelimit_usage(request, "checkout-payment")
    if used is None or not used.limited:
        return None
    return rate_limited_page(
        request,
        used,
        template="checkout/payment_rate_limited.html",
        context={"checkout_id": checkout_id},
    )


def _session_cart(request):
    user = request.user
    if user.is_authenticated:
        return cart_selectors.cart_get_open_for_user(user=user)
    cart_id = request.session.get("cart_id")
    if not cart_id:
        return None
    try:
        cart = cart_selectors.cart_get(cart_id=cart_id, user=user)
    except CartNotFound:
        return None
    return cart if cart.is_open else None


def _posted(request):
    """The POST data to bind a form to; an empty POST still gets validated."""
    return request.POST if request.method == "POST" else None


def _checkout(request, checkout_id) -> Checkout:
    try:
        checkout = selectors.checkout_get(checkout_id=checkout_id, user=request.user)
    except CheckoutNotFound:
        raise Http404("No such checkout") from None
    # A shopper still moving through the steps keeps the units held for them.
    services.checkout_hold_renew(checkout=checkout)
    return checkout


def _step_url(checkout: Checkout, step: str) -> str:
    name = dict((s, u) for s, _label, u in STEPS)[step]
    return reverse(name, kwargs={"checkout_id": checkout.pk})


def _reachable(checkout: Checkout, totals) -> str:
    """The first step still to do; a method that no longer quotes is not chosen."""
    return services.checkout_next_step(
        checkout,
        requires_shipping=totals.requires_shipping,
        shipping_quoted=not totals.shipping_method_lapsed,
    )


def _context(checkout: Checkout, current: str, totals=None, **extra) -> dict:
    totals = totals or services.checkout_totals(checkout=checkout)
    reachable = _reachable(checkout, totals)
    steps = []
    for step, label, _url in STEPS:
        if not totals.requires_shipping and step in (
            S.SHIPPING_ADDRESS,
            S.SHIPPING_METHOD,
        ):
            continue
        steps.append(
            {
                "label": label,
                "url": _step_url(checkout, step),
                "is_current": step == current,
                "is_done": _ORDER.index(step) < _ORDER.index(reachable),
                "is_reachable": _ORDER.index(step) <= _ORDER.index(reachable),
            }
        )
    return {
        "checkout": checkout,
        "totals": totals,
        "steps": steps,
        "current": current,
        **extra,
    }


def _guard(checkout: Checkout, step: str, totals):
    """Return a redirect when the step cannot be shown now, else None."""
    if checkout.state == S.COMPLETED:
        order = selectors.order_get_for_checkout(checkout=checkout)
        return redirect(order_public_path(order))
    reachable = _reachable(checkout, totals)
    if not totals.requires_shipping and step in (S.SHIPPING_ADDRESS, S.SHIPPING_METHOD):
        return redirect(_step_url(checkout, reachable))
    if _ORDER.index(step) > _ORDER.index(reachable):
        return redirect(_step_url(checkout, reachable))
    return None


@require_http_methods(["GET", "POST"])
@limit
def checkout_start(request):
    """Start (POST) or resume (GET) the checkout of the session cart.

    GET only reads: it goes on to an existing checkout's step, or offers a
    "Start checkout" button, so a crawler or a prefetched link creates no
    checkout.
    """
    cart = _session_cart(request)
    if cart is None:
        messages.error(request, "Your cart is empty.")
        return redirect("carts:cart-detail")
    if request.method == "GET":
        existing = selectors.checkout_get_for_cart(cart_id=cart.pk)
        if existing is None or existing.state == S.COMPLETED:
            return render(request, "checkout/start.html", {"cart": cart})
        totals = services.checkout_totals(checkout=existing)
        return redirect(_step_url(existing, _reachable(existing, totals)))
    try:
        checkout, _ = services.checkout_start(
            cart=cart, user=request.user, request=request
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("carts:cart-detail")
    totals = services.checkout_totals(checkout=checkout)
    return redirect(_step_url(checkout, _reachable(checkout, totals)))


@require_http_methods(["GET", "POST"])
@limit
def checkout_email(request, checkout_id):
    checkout = _checkout(request, checkout_id)
    totals = services.checkout_totals(checkout=checkout)
    if checkout.state == S.COMPLETED:
        return _guard(checkout, S.IDENTIFICATION, totals)
    form = EmailForm(
        _posted(request),
        initial={
            "email": checkout.email,
            "marketing_consent": checkout.marketing_consent,
        },
    )
    gift_form = GiftDeliveryForm.for_cart(_posted(request), checkout, totals.view)
    gift_ok = gift_form is None or gift_form.is_valid()
    if request.method == "POST" and form.is_valid() and gift_ok:
        try:
            if gift_form is not None:
                services.checkout_set_gift_delivery(
                    checkout=checkout, **gift_form.delivery()
                )
            checkout = services.checkout_set_email(
                checkout=checkout,
                email=form.cleaned_data["email"],
                marketing_consent=form.cleaned_data["marketing_consent"],
            )
            return redirect(_step_url(checkout, _next(checkout)))
        except ValidationFailed as exc:
            fields = exc.details.get("fields", {})
            gifts = gift_form is not None and "gift_send_on" in fields
            (gift_form if gifts else form).add_service_errors(fields)  # type: ignore[union-attr]
        except ApplicationError as exc:
            messages.error(request, exc.message)
    login_next = reverse("checkout:start")
    return render(
        request,
        "checkout/email.html",
        _context(
            checkout,
            S.IDENTIFICATION,
            totals,
            form=form,
            gift_form=gift_form,
            login_next=login_next,
        ),
        status=400 if form.errors or (gift_form and gift_form.errors) else 200,
    )


def _next(checkout: Checkout) -> str:
    return _reachable(checkout, services.checkout_totals(checkout=checkout))


def _saved_addresses(request):
    if not request.user.is_authenticated:
        return []
    return list(account_selectors.address_list_for_user(user=request.user))


def _initial_from(address: dict | None, saved) -> dict:
    if address:
        return address
    if saved:
        a = saved[0]
        return {k: getattr(a, k) for k in services.checkout.ADDRESS_FIELDS}
    return {"country": "US"}


@require_http_methods(["GET", "POST"])
@limit
def checkout_shipping_address(request, checkout_id):
    checkout = _checkout(request, checkout_id)
    totals = services.checkout_totals(checkout=checkout)
    if request.method == "GET" and (
        guard := _guard(checkout, S.SHIPPING_ADDRESS, totals)
    ):
        return guard
    saved = _saved_addresses(request)
    if request.method == "POST" and request.POST.get("saved_address"):
        data = _initial_from(
            None, [a for a in saved if str(a.pk) == request.POST["saved_address"]] or []
        )
        form = ShippingAddressForm(data)
    else:
        form = ShippingAddressForm(
            _posted(request),
            initial=_initial_from(checkout.shipping_address, saved),
        )
    return _address_step(
        request,
        checkout,
        totals,
        form,
        step=S.SHIPPING_ADDRESS,
        heading="Shipping address",
        saved=saved,
        save=lambda data: services.checkout_set_shipping_address(
            checkout=checkout,
            address=form.address(),
            save_to_address_book=data.get("save_to_address_book", False),
        ),
    )


@require_http_methods(["GET", "POST"])
@limit
def checkout_billing_address(request, checkout_id):
    checkout = _checkout(request, checkout_id)
    totals = services.checkout_totals(checkout=checkout)
    if request.method == "GET" and (
        guard := _guard(checkout, S.BILLING_ADDRESS, totals)
    ):
        return guard
    saved = _saved_addresses(request)
    initial = _initial_from(checkout.billing_address, saved)
    initial["same_as_shipping"] = bool(
        checkout.billing_same_as_shipping and totals.requires_shipping
    )
    form = BillingForm(_posted(request), initial=initial)
    if not totals.requires_shipping:
        form.fields.pop("same_as_shipping")

    def save(data):
        same = bool(data.get("same_as_shipping"))
        return services.checkout_set_billing_address(
            checkout=checkout,
            same_as_shipping=same,
            address=None if same else form.address(),
            save_to_address_book=data.get("save_to_address_book", False),
        )

    return _address_step(
        request,
        checkout,
        totals,
        form,
        step=S.BILLING_ADDRESS,
        heading="Billing address",
        saved=[],
        save=save,
    )


def _address_step(request, checkout, totals, form, *, step, heading, saved, save):
    """Both address steps: save on a valid POST and move on, else re-render with
    the service's field errors placed next to their fields."""
    if request.method == "POST" and form.is_valid():
        try:
            checkout = save(form.cleaned_data)
            return redirect(_step_url(checkout, _next(checkout)))
        except ValidationFailed as exc:
            form.add_service_errors(exc.details.get("fields", {}))
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "checkout/address.html",
        _context(checkout, step, totals, form=form, saved=saved, heading=heading),
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@limit
def checkout_shipping_method(request, checkout_id):
    checkout = _checkout(request, checkout_id)
    totals = services.checkout_totals(checkout=checkout)
    if request.method == "GET" and (
        guard := _guard(checkout, S.SHIPPING_METHOD, totals)
    ):
        return guard
    quotes = services.checkout_shipping_quotes(checkout=checkout)
    form = ShippingMethodForm(
        _posted(request),
        quotes=quotes,
        initial={"shipping_method": checkout.shipping_method_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            checkout = services.checkout_set_shipping_method(
                checkout=checkout, method_id=form.cleaned_data["shipping_method"]
            )
            if _next(checkout) != S.PAYMENT:
                return redirect(_step_url(checkout, _next(checkout)))
            # "Continue to payment": this POST starts it (one click, PRG).
            if (limited := _payment_limited(request, checkout.pk)) is not None:
                return limited
            return _payment_start(request, checkout)
        except ApplicationError as exc:
            form.add_error("shipping_method", exc.message)
    return render(
        request,
        "checkout/shipping_method.html",
        _context(checkout, S.SHIPPING_METHOD, totals, form=form, quotes=quotes),
        status=400 if form.errors else 200,
    )


def _payment_start(request, checkout: Checkout):
    """Reserve stock, place the pending order, get the intent; then PRG to the
    card form (or back to the step that needs the shopper, with a message)."""
    try:
        services.checkout_payment_start(checkout=checkout, request=request)
    except OutOfStock as exc:
        skus = ", ".join(line["sku"] for line in exc.details.get("lines", []))
        messages.error(
            request,
            f"Sorry, these items are no longer available in "
            f"the quantity you asked for: {skus}. Please update your cart.",
        )
        return redirect("carts:cart-detail")
    except ShippingMethodLapsed as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(checkout, S.SHIPPING_METHOD))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(checkout, S.PAYMENT))
    return redirect(_step_url(checkout, S.PAYMENT))


@require_http_methods(["GET", "POST"])
@limit
def checkout_payment(request, checkout_id):
    """Review and pay. GET only reads: the review with a "Continue to payment"
    button while no payment is started (or it no longer matches the checkout),
    else the card form for the started intent. POST starts the payment
    (reserve stock, pending order, intent) and redirects back here."""
    if (limited := _payment_limited(request, checkout_id)) is not None:
        return limited
    checkout = _checkout(request, checkout_id)
    totals = services.checkout_totals(checkout=checkout)
    if totals.shipping_method_lapsed and checkout.state != S.COMPLETED:
        messages.error(
            request,
            f"{checkout.shipping_method.name if checkout.shipping_method else ''}"
            " no longer applies to this cart and address: choose a delivery "
            "method again.",
        )
        return redirect(_step_url(checkout, S.SHIPPING_METHOD))
    if guard := _guard(checkout, S.PAYMENT, totals):
        return guard
    if request.method == "POST":
        return _payment_start(request, checkout)
    session = services.checkout_payment_session(checkout=checkout, totals=totals)
    return render(
        request,
        "checkout/payment.html",
        _context(
            checkout,
            S.PAYMENT,
            totals,
            session=session,
            stripe_js_url=settings.STRIPE_JS_URL,
            return_url=request.build_absolute_uri(
                reverse("checkout:complete", kwargs={"checkout_id": checkout.pk})
            ),
            order=session.order if session else None,
            credit_form=StoreCreditForm() if checkout.user_id else None,
            gift_card_form=GiftCardCodeForm(),
            credit_balance=wallet_selectors.wallet_balance_for_user_id(
                user_id=checkout.user_id, currency=totals.currency
            )
            if checkout.user_id
            else 0,
        ),
    )


@require_POST
@limit
def checkout_change_cart(request):
    """ "Change cart": cancel the started payment so the cart can change again."""
    cart = _session_cart(request)
    checkout = (
        selectors.checkout_get_for_cart(cart_id=cart.pk) if cart is not None else None
    )
    if checkout is None:
        return redirect("carts:cart-detail")
    try:
        services.checkout_change_cart(checkout=checkout, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(checkout, S.PAYMENT))
    messages.info(request, "The payment was cancelled: you can change your cart.")
    return redirect("carts:cart-detail")


@require_GET
@limit
def checkout_complete(request, checkout_id):
    """Stripe's return page: re-fetch the intent and finalise, or go back."""
    checkout = _checkout(request, checkout_id)
    try:
        order = services.checkout_complete(
            checkout=checkout, source="return_page", request=request
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("checkout:payment", checkout_id=checkout.pk)
    if order.status == order.Status.PENDING_PAYMENT:
        messages.info(request, "Your payment is being processed.")
    return redirect(order_public_path(order))
