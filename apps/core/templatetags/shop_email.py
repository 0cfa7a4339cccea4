"""Tags for emails and order pages: absolute links, picture URLs, tracking links.

Mail clients have no base URL, so every link and image in an email is made
absolute with SITE_URL.
"""

from urllib.parse import quote

from django import template
from django.conf import settings
from django.core.files.storage import default_storage

register = template.Library()

# Carriers whose public tracking page takes the number in the URL; anything
# else goes to a carrier-neutral tracker so the shopper still gets a link.
TRACKING_URLS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}",
    "royal mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
}
GENERIC_TRACKING_URL = "https://parcelsapp.com/en/tracking/{}"


@register.filter
def absolute(path: str) -> str:
    """``/media/x.webp`` -> ``https://shop.example/media/x.webp``."""
    if not path or "://" in path:
        return path or ""
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


@register.filter
def email_image_url(image, max_width: int = 240) -> str:
    """Absolute URL of an image's widest rendition up to ``max_width``.

    An email never carries the uploaded original (it may be 6000 px wide).
    """
    if image is None:
        return ""
    renditions = getattr(image, "renditions", None) or []
    fitting = [r for r in renditions if r["width"] <= int(max_width)]
    chosen = fitting[-1] if fitting else (renditions[0] if renditions else None)
    url = default_storage.url(chosen["name"]) if chosen else image.image.url
    return absolute(url)


@register.filter
def tracking_url(shipment) -> str:
    """The carrier's tracking page for an order or fulfilment ("" without a number)."""
    number = (getattr(shipment, "tracking_number", "") or "").strip()
    if not number:
        return ""
    carrier = (getattr(shipment, "carrier", "") or "").strip().lower()
    pattern = TRACKING_URLS.get(carrier, GENERIC_TRACKING_URL)
    return pattern.format(quote(number, safe=""))
