"""Storefront picture tags: responsive ``<img>`` markup from an image's renditions."""

from django import template
from django.core.files.storage import default_storage

from apps.inventory import images, selectors
from apps.inventory.models import ProductImage

register = template.Library()

# Below this viewport width a page is laid out for a phone: the picture is
# offered at most PHONE_MAX_WIDTH pixels wide, whatever the screen density.
PHONE_BREAKPOINT = "(max-width: 640px)"


@register.inclusion_tag("inventory/_picture.html")
def product_picture(
    image: ProductImage | None,
    *,
    sizes: str = "100vw",
    phone_sizes: str = "100vw",
    max_width: int = images.RENDITION_WIDTHS[-1],
    fallback_width: int = 480,
    alt: str = "",
    css_class: str = "",
    eager: bool = False,
) -> dict:
    """Render a picture (or nothing when there is no image).

    ``max_width`` caps the widest copy offered at all (a list card needs no
    1200 px copy); phones never get more than PHONE_MAX_WIDTH.
    """
    if image is None:
        return {"image": None}
    fallback = images.image_fallback(image, max_width=fallback_width)
    return {
        "image": image,
        "src": default_storage.url(fallback["name"]) if fallback else image.image.url,
        "width": fallback["width"] if fallback else image.width or None,
        "height": fallback["height"] if fallback else image.height or None,
        "srcset": images.image_srcset(image, max_width=max_width),
        "phone_srcset": images.image_srcset(
            image, max_width=min(max_width, images.PHONE_MAX_WIDTH)
        ),
        "phone_breakpoint": PHONE_BREAKPOINT,
        "sizes": sizes,
        "phone_sizes": phone_sizes,
        "alt": image.alt_text or alt,
        "css_class": css_class,
        "eager": eager,
    }


@register.simple_tag
def line_images(lines) -> dict[int, ProductImage]:
    """Main picture per variant id for cart or order lines, in one query.

    ``{% line_images lines as images %}`` then ``images|lookup:line.variant_id``.
    """
    ids = [line.variant_id for line in lines if getattr(line, "variant_id", None)]
    return selectors.variant_main_images(variant_ids=ids)


@register.filter
def lookup(mapping, key):
    """``mapping[key]`` or None (templates cannot index a dict by a variable)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
