"""Storefront pages: home, product list, product detail and the back-in-stock form.

Anonymous GETs of the catalogue pages are served from page_cache: the page's
content is rendered once per catalogue version and query string; the header
(cart count, messages) and the CSRF token are filled in per request.
"""

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from apps.core.exceptions import ApplicationError
from apps.inventory import catalogue, page_cache, selectors, services
from apps.inventory.exceptions import ProductNotFound
from apps.inventory.forms import BackInStockForm, ProductSearchForm
from apps.inventory.product_page import detail_context


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


def _card(product) -> dict:
    pairs = selectors.product_variant_availability(product)
    return {
        "product": product,
        "image": catalogue.product_main_image(product),
        "price_range": selectors.product_price_range(product),
        "status": _summary(pairs),
        "shows_holds": any(getattr(v, "stock_reserved", 0) for v, _ in pairs),
        "ship_date": _soonest_backorder_date(pairs),
    }


def _cached_page(request, kind: str, build):
    """Render ``build()``'s (template, context) content, from cache when allowed.

    ``build`` may return an HttpResponse (a redirect) instead; that is never cached.
    """
    key = None
    if page_cache.request_is_cacheable(request):
        key = page_cache.page_key(kind, request.path, sorted(request.GET.lists()))
        page = cache.get(key)
        if page is not None:
            return _page_response(request, page)
    built = build()
    if isinstance(built, HttpResponseRedirect):
        return built
    template, context = built
    page = {
        "title": context.get("page_title", ""),
        "body": render_to_string(
            template, {**context, "csrf_token": page_cache.CSRF_PLACEHOLDER}
        ),
        "menu": context.get("category_menu"),
    }
    # A page showing held units would go stale when a hold times out, which
    # nothing announces: such pages are rendered fresh each time.
    if key is not None and not context.get("shows_holds"):
        cache.set(key, page, page_cache.PAGE_SECONDS)
    return _page_response(request, page)


def _page_response(request, page: dict):
    body = page["body"].replace(page_cache.CSRF_PLACEHOLDER, get_token(request))
    return render(
        request,
        "inventory/page.html",
        {
            "page_title": page["title"],
            "body": mark_safe(body),
            "category_menu": page["menu"],
        },
    )


@require_GET
def home(request):
    def build():
        featured = [_card(p) for p in catalogue.featured_products()]
        return "inventory/_home.html", {
            "page_title": "",
            "featured": featured,
            "shows_holds": any(row["shows_holds"] for row in featured),
            "category_menu": catalogue.category_menu(),
        }

    return _cached_page(request, "home", build)


@require_GET
def product_list(request):
    return _cached_page(request, "list", lambda: _list_page(request))


def _list_page(request):
    category_slug = request.GET.get("category", "")
    probe = ProductSearchForm(request.GET)
    probe.is_valid()
    base_filters = catalogue.ProductFilters(
        category_slug=probe.cleaned_data.get("category") or category_slug
    )
    facets = catalogue.option_facets(base_filters)
    form = ProductSearchForm(request.GET, facets=facets)
    filters = form.filters()
    paginator = Paginator(catalogue.product_search(filters), form.page_size())
    number = request.GET.get("page") or 1
    try:
        number = int(number)
    except ValueError:
        number = 1
    if number > 1 and number > paginator.num_pages:
        query = request.GET.copy()
        query["page"] = str(paginator.num_pages)
        return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
    page = paginator.get_page(number)
    menu = catalogue.category_menu()
    current = next(
        (
            c
            for entry in menu
            for c in [entry.category, *entry.children]
            if c.slug == filters.category_slug
        ),
        None,
    )
    rows = [_card(p) for p in page.object_list]
    keep = request.GET.copy()
    keep.pop("page", None)
    return "inventory/_product_list.html", {
        "page_title": current.name if current else "Products",
        "form": form,
        "filters": filters,
        "facets": facets,
        "page": page,
        "rows": rows,
        "category_menu": menu,
        "current_category": current,
        "q": filters.q,
        "querystring": keep.urlencode(),
        "shows_holds": any(row["shows_holds"] for row in rows),
        "suggested_categories": (
            [entry.category for entry in menu] if not page.object_list else []
        ),
    }


@require_GET
def product_detail(request, slug):
    def build():
        try:
            product = selectors.product_get(slug=slug)
        except ProductNotFound as exc:
            raise Http404(exc.message) from exc
        context = detail_context(request, product)
        context["shows_holds"] = any(
            v.stock_reserved for v, _, _ in context["variants"]
        )
        return "inventory/_product_detail.html", {
            **context,
            "page_title": product.title,
            "category_menu": catalogue.category_menu(),
        }

    if request.user.is_authenticated:
        # Signed-in pages prefill the notify form with the user's email.
        _template, context = build()
        return render(request, "inventory/product_detail.html", context)
    return _cached_page(request, "product", build)


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
        detail_context(request, product, notify_form=form),
        status=400,
    )
