"""Cart pages. They work without JavaScript: every change is a POST that
redirects back to the cart; form errors re-render the cart with the error
next to the field.

Anonymous shoppers' carts are found through the session (``cart_id``);
signed-in shoppers use their open cart.
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from apps.carts import selectors, services
from apps.carts.exceptions import CartLocked, CartNotFound
from apps.carts.forms import AddToCartForm, CouponForm, LineQuantityForm
from apps.core.exceptions import ApplicationError
from apps.core.ratelimit import rate_limit
from apps.inventory import selectors as inventory_selectors

SESSION_KEY = "cart_id"


def page_cart(request, *, create: bool = False):
    """Return the shopper's open cart (creating one when asked), or None."""
    user = request.user
    if user.is_authenticated:
        cart = selectors.cart_get_open_for_user(user=user)
    else:
        cart = None
        cart_id = request.session.get(SESSION_KEY)
        if cart_id:
            try:
                cart = selectors.cart_get(cart_id=cart_id, user=user)
            except CartNotFound:
                cart = None
            if cart is not None and not cart.is_open:
                cart = None
    if cart is None and create:
        cart, _ = services.cart_create(user=user)
        if not user.is_authenticated:
            request.session[SESSION_KEY] = str(cart.pk)
    return cart


def _render(request, *, status=200, coupon_form=None, line_errors=None):
    cart = page_cart(request)
    view = selectors.cart_view(cart=cart, user=request.user) if cart else None
    # The header's count is this cart's: no second read of its lines.
    request.cart_count = view.item_count if view else 0
    return render(
        request,
        "carts/cart_detail.html",
        {
            "view": view,
            "coupon_form": coupon_form or CouponForm(),
            "line_errors": line_errors or {},
        },
        status=status,
    )


@require_GET
def cart_detail(request):
    return _render(request)


def _back(request) -> HttpResponseRedirect:
    target = request.POST.get("next") or request.headers.get("Referer", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect("carts:cart-detail")


def _add_failed(request, form, exc: ApplicationError) -> HttpResponseRedirect:
    """Back to the product page with the chosen option and quantity still
    chosen, and a message naming the product and options, not the SKU."""
    sku = form.cleaned_data["sku"]
    variant = inventory_selectors.variant_get_by_sku(sku=sku)
    if variant is None:
        messages.error(request, exc.message)
        return _back(request)
    messages.error(
        request,
        exc.message.replace(sku, inventory_selectors.variant_display_name(variant)),
    )
    query = urlencode({"variant": sku, "quantity": form.cleaned_data["quantity"]})
    url = reverse("inventory:product-detail", args=[variant.product.slug])
    return HttpResponseRedirect(f"{url}?{query}#add")


@require_POST
def cart_add(request):
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an option and a quantity of at least 1.")
        return _back(request)
    cart = page_cart(request, create=True)
    try:
        services.cart_line_add(
            cart=cart,
            sku=form.cleaned_data["sku"],
            quantity=form.cleaned_data["quantity"],
        )
    except CartLocked as exc:
        # The cart page is where "Change cart" is offered.
        messages.error(request, exc.message)
        return redirect("carts:cart-detail")
    except ApplicationError as exc:
        return _add_failed(request, form, exc)
    messages.success(request, "Added to your cart.")
    return redirect("carts:cart-detail")


@require_POST
def cart_line_update(request, line_id: int):
    form = LineQuantityForm(request.POST)
    cart = page_cart(request)
    if cart is None:
        return redirect("carts:cart-detail")
    if not form.is_valid():
        return _render(
            request, status=400, line_errors={line_id: form.errors["quantity"][0]}
        )
    try:
        services.cart_line_set_quantity(
            cart=cart, line_id=line_id, quantity=form.cleaned_data["quantity"]
        )
    except ApplicationError as exc:
        return _render(request, status=400, line_errors={line_id: exc.message})
    messages.success(request, "Cart updated.")
    return redirect("carts:cart-detail")


@require_POST
def cart_line_remove(request, line_id: int):
    cart = page_cart(request)
    if cart is not None:
        try:
            services.cart_line_remove(cart=cart, line_id=line_id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("carts:cart-detail")
        messages.success(request, "Item removed.")
    return redirect("carts:cart-detail")


@require_POST
@rate_limit("coupon")
def cart_coupon_apply(request):
    form = CouponForm(request.POST)
    if not form.is_valid():
        return _render(request, status=400, coupon_form=form)
    cart = page_cart(request, create=True)
    try:
        services.cart_coupon_apply(
            cart=cart, code=form.cleaned_data["code"], user=request.user
        )
    except ApplicationError as exc:
        form.add_error("code", exc.message)
        form.error_code = exc.code
        return _render(request, status=400, coupon_form=form)
    messages.success(request, f"Coupon {form.cleaned_data['code']} applied.")
    return redirect("carts:cart-detail")


@require_POST
def cart_coupon_remove(request, code: str):
    cart = page_cart(request)
    if cart is not None:
        try:
            services.cart_coupon_remove(cart=cart, code=code)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("carts:cart-detail")
        messages.success(request, f"Coupon {code.upper()} removed.")
    return redirect(reverse("carts:cart-detail"))
