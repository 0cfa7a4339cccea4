"""What the product page shows: gallery, options as buttons, availability."""

from apps.inventory import selectors
from apps.inventory.forms import BackInStockForm


def _gallery(product, selected):
    images = list(product.images.all())
    if selected is not None:
        # The chosen variant's own pictures first, then the product's.
        images.sort(key=lambda i: (i.variant_id != selected.pk, i.position, i.pk))
    return images


def _quantity(request) -> int:
    try:
        return max(1, int(request.GET.get("quantity", 1)))
    except ValueError:
        return 1


def detail_context(request, product, notify_form=None) -> dict:
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
    option_names = sorted(
        {name for v, _ in pairs for name in (v.option_values or {})},
        key=lambda n: (n != "colour", n),
    )
    gallery = _gallery(product, selected)
    return {
        "product": product,
        "gallery": gallery,
        "main_image": gallery[0] if gallery else None,
        "variants": [(v, a, selectors.variant_options_label(v)) for v, a in pairs],
        "option_legend": " / ".join(n.capitalize() for n in option_names) or "Option",
        "selected": selected,
        "quantity": _quantity(request),
        "price_range": selectors.product_price_range(product),
        "any_purchasable": any(a.purchasable for _, a in pairs),
        "waiting_variants": waiting,
        "notify_form": notify_form,
    }
