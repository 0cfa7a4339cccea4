"""Storefront pages: product list, product detail and the back-in-stock form."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.exceptions import ApplicationError
from apps.inventory import selectors, services
from apps.inventory.exceptions import ProductNotFound
from apps.inventory.forms import BackInStockForm, ProductSearchForm

PAGE_SIZE = 12


def _summary(pairs) -> str:
    statuses = {availability.status for _, availability in pairs}
    for status in ("in_stock", "low_stock", "backorder"):
        if status in statuses:
            return "in_stock" if status == "low_stock" else status
    return "out_of_stock"


def _soonest_backorder_date(pairs):
    """The earliest expected ship date among backordered variants, if any is known."""
    dates = [a.expected_ship_date for _, a in pairs if a.backorder]
    return min((d for d in dates if d is not None), default=None)


@require_GET
def product_list(request):
    form = ProductSearchForm(request.GET)
    q = category_slug = ""
    if form.is_valid():
        q = form.cleaned_data["q"]
        category_slug = form.cleaned_data["category"]
    products = selectors.product_list(q=q or None, category_slug=category_slug or None)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for product in page.object_list:
        pairs = selectors.product_variant_availability(product)
        rows.append(
            {
                "product": product,
                "price_range": selectors.product_price_range(product),
                "status": _summary(pairs),
                "ship_date": _soonest_backorder_date(pairs),
            }
        )
    categories = list(selectors.category_list())
    return render(
        request,
        "inventory/product_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "categories": categories,
            "current_category": next(
                (c for c in categories if c.slug == category_slug), None
            ),
            "q": q,
        },
    )


def _detail_context(request, product, notify_form=None) -> dict:
    pairs = selectors.product_variant_availability(product)
    waiting = [v for v, a in pairs if not a.purchasable]
    selected_sku = request.GET.get("variant")
    selected = next((v for v, _ in pairs if v.sku == selected_sku), None)
    if selected is None:
        selected = next((v for v, a in pairs if a.purchasable), None)
    if notify_form is None:
        initial = {}
        if request.user.is_authenticated:
            initial["email"] = request.user.email
        notify_form = BackInStockForm(variants=waiting, initial=initial)
    return {
        "product": product,
        "variants": pairs,
        "selected": selected,
        "any_purchasable": any(a.purchasable for _, a in pairs),
        "waiting_variants": waiting,
        "notify_form": notify_form,
    }


@require_GET
def product_detail(request, slug):
    try:
        product = selectors.product_get(slug=slug)
    except ProductNotFound as exc:
        raise Http404(exc.message) from exc
    return render(
        request, "inventory/product_detail.html", _detail_context(request, product)
    )


@require_POST
def product_notify(request, slug):
    try:
        product = selectors.product_get(slug=slug)
    except ProductNotFound as exc:
        raise Http404(exc.message) from exc
    variants = {v.sku: v for v in selectors.product_active_variants(product)}
    form = BackInStockForm(request.POST, variants=list(variants.values()))
    if form.is_valid():
        try:
            services.back_in_stock_subscribe(
                variant_id=variants[form.cleaned_data["sku"]].pk,
                email=form.cleaned_data["email"],
                user=request.user,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                f"We will email {form.cleaned_data['email']} once when it is back.",
            )
            return redirect("inventory:product-detail", slug=product.slug)
    return render(
        request,
        "inventory/product_detail.html",
        _detail_context(request, product, notify_form=form),
        status=400,
    )
