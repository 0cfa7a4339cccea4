"""Load a small demo catalogue (USD). Idempotent: rows are matched by slug/SKU,
and stock is only set when a variant is first created, so re-running never
undoes sales or adjustments made since."""

import hashlib
import io
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.inventory.images import product_image_add
from apps.inventory.models import Category, Product, ProductImage, Variant
from apps.inventory.services import stock_set

CATEGORIES: list[tuple[str, str, str | None]] = [
    ("apparel", "Apparel", None),
    ("t-shirts", "T-shirts", "apparel"),
    ("hoodies", "Hoodies & Sweatshirts", "apparel"),
    ("accessories", "Accessories", None),
    ("bags", "Bags", "accessories"),
    ("hats", "Hats", "accessories"),
    ("home", "Home", None),
    ("kitchen", "Kitchen", "home"),
    ("decor", "Decor", "home"),
]

SIZES = ["S", "M", "L", "XL"]

# (slug, title, category, description, price_minor, grams, variants)
# variants: list of (sku suffix, options, stock) or a dict with extra fields.
PRODUCTS: list[tuple[str, str, str, str, int, int, list[tuple[Any, ...]]]] = [
    ("classic-crew-tee", "Classic Crew Tee", "t-shirts",
     "Heavyweight combed cotton, garment-dyed for a lived-in feel.", 2400, 210,
     [(s, {"size": s, "colour": "White"}, 25) for s in SIZES]),
    ("pocket-tee-navy", "Pocket Tee — Navy", "t-shirts",
     "Relaxed fit with a chest pocket.", 2800, 220,
     [(s, {"size": s}, n) for s, n in zip(SIZES, [12, 3, 0, 8], strict=True)]),
    ("striped-breton", "Striped Breton Tee", "t-shirts",
     "Long-sleeve Breton stripe in organic cotton.", 3900, 260,
     [(s, {"size": s}, 6) for s in SIZES]),
    ("graphic-tee-mountains", "Graphic Tee — Mountains", "t-shirts",
     "Water-based print on a soft slub jersey.", 2600, 200,
     [(s, {"size": s}, 2) for s in SIZES]),
    ("heavy-hoodie-oat", "Heavy Hoodie — Oat", "hoodies",
     "450 gsm brushed-back fleece, double-lined hood.", 7800, 780,
     [(s, {"size": s}, 10) for s in SIZES]),
    ("zip-hoodie-charcoal", "Zip Hoodie — Charcoal", "hoodies",
     "Full zip with metal hardware.", 8400, 820,
     [(s, {"size": s}, 0) for s in SIZES]),  # sold out: notify-me demo
    ("crewneck-sweatshirt", "Crewneck Sweatshirt", "hoodies",
     "Raglan sleeves, ribbed cuffs, loopback cotton.", 6400, 640,
     [(s, {"size": s, "colour": c}, 7) for s in SIZES[:3] for c in ["Grey"]]),
    ("canvas-tote", "Canvas Tote", "bags",
     "12 oz natural canvas with an inside pocket.", 2200, 300,
     [("NAT", {"colour": "Natural"}, 40), ("BLK", {"colour": "Black"}, 4)]),
    ("roll-top-backpack", "Roll-top Backpack", "bags",
     "Waxed canvas, 22 L, padded laptop sleeve.", 14900, 1100,
     [("OLV", {"colour": "Olive"}, 0,
       {"allow_backorder": True, "backorder_lead_days": 21})]),  # backorderable
    ("weekender-duffel", "Weekender Duffel", "bags",
     "Leather handles, detachable strap.", 18900, 1600,
     [("TAN", {"colour": "Tan"}, 3)]),
    ("wool-beanie", "Wool Beanie", "hats",
     "Merino rib knit, one size.", 3200, 90,
     [("RUST", {"colour": "Rust"}, 15), ("NAVY", {"colour": "Navy"}, 1)]),
    ("six-panel-cap", "Six-panel Cap", "hats",
     "Washed cotton twill, brass buckle.", 2900, 110,
     [("STN", {"colour": "Stone"}, 22)]),
    ("enamel-mug", "Enamel Mug", "kitchen",
     "Camp-style enamel mug, 350 ml.", 1600, 240,
     [("WHT", {"colour": "White"}, 60), ("BLU", {"colour": "Blue"}, 5)]),
    ("pour-over-set", "Pour-over Coffee Set", "kitchen",
     "Ceramic dripper with a glass carafe.", 4800, 900,
     [("SET", {}, 9, {"max_per_order": 2})]),
    ("linen-apron", "Linen Apron", "kitchen",
     "Stonewashed linen with cross-back straps.", 3600, 280,
     [("SND", {"colour": "Sand"}, 11)]),
    ("chef-knife", "Chef's Knife 20 cm", "kitchen",
     "Carbon steel, walnut handle.", 12900, 260,
     [("20", {"length": "20 cm"}, 4, {"compare_at_price_minor": 15900})]),
    ("oak-serving-board", "Oak Serving Board", "kitchen",
     "End-grain oak, oiled.", 5400, 1400,
     [("M", {"size": "M"}, 8), ("L", {"size": "L"}, 2)]),
    ("ceramic-vase", "Ceramic Vase", "decor",
     "Hand-thrown stoneware, matte glaze.", 4200, 850,
     [("SM", {"size": "Small"}, 5), ("LG", {"size": "Large"}, 3)]),
    ("linen-cushion", "Linen Cushion Cover", "decor",
     "50 × 50 cm, hidden zip.", 3400, 250,
     [("OAT", {"colour": "Oat"}, 14), ("MOSS", {"colour": "Moss"}, 0)]),
    ("beeswax-candle", "Beeswax Candle", "decor",
     "Pure beeswax pillar, 40 hour burn.", 1800, 400,
     [("ONE", {}, 30, {"track_stock": True})]),
    ("gift-card", "Gift Card", "accessories",
     "Sent by email; never expires.", 5000, 0,
     [("50", {"value": "$50"}, 0, {"track_stock": False, "is_gift_card": True})]),
]  # fmt: skip


# Featured on the home page.
FEATURED = {"classic-crew-tee", "heavy-hoodie-oat", "canvas-tote", "enamel-mug"}


def demo_picture(title: str, index: int) -> io.BytesIO:
    """A 1200 x 900 JPEG drawn locally: a colour field with the product's name."""
    from PIL import Image, ImageDraw

    hue = int(hashlib.sha256(title.encode()).hexdigest()[:6], 16)
    base = ((hue >> 16) & 0xFF, (hue >> 8) & 0xFF, hue & 0xFF)
    colour = tuple(int(c * 0.55 + 90) for c in base)
    image = Image.new("RGB", (1200, 900), colour)
    draw = ImageDraw.Draw(image)
    shade = tuple(max(0, c - 40) for c in colour)
    draw.ellipse((350 - index * 60, 200, 850 + index * 60, 700), fill=shade)
    draw.text((80, 80), f"{title} ({index + 1})", fill=(255, 255, 255), font_size=56)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=82)
    buffer.seek(0)
    return buffer


class Command(BaseCommand):
    help = "Load the demo catalogue (categories, products, variants, stock)."

    @transaction.atomic
    def handle(self, *args, **options):
        categories: dict[str, Category] = {}
        for position, (slug, name, parent) in enumerate(CATEGORIES):
            categories[slug], _ = Category.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "parent": categories.get(parent) if parent is not None else None,
                    "position": position,
                },
            )
        created_variants = 0
        for slug, title, category, description, price, grams, variants in PRODUCTS:
            product, _ = Product.objects.update_or_create(
                slug=slug,
                defaults={
                    "title": title,
                    "category": categories[category],
                    "description": description,
                    "is_active": True,
                    "is_featured": slug in FEATURED,
                },
            )
            # Pictures once per product: a re-run keeps whatever staff uploaded.
            if not ProductImage.objects.filter(product=product).exists():
                for index in range(2):
                    product_image_add(
                        product_id=product.pk,
                        file=demo_picture(title, index),
                        filename=f"{slug}-{index + 1}.jpg",
                        alt_text=f"{title}, view {index + 1}",
                        position=index,
                    )
            for position, spec in enumerate(variants):
                suffix, options, stock = spec[:3]
                extra = spec[3] if len(spec) > 3 else {}
                sku = f"{slug.upper()[:12].rstrip('-')}-{suffix}"
                variant, created = Variant.objects.update_or_create(
                    sku=sku,
                    defaults={
                        "product": product,
                        "title": " / ".join(options.values()),
                        "option_values": options,
                        "price_minor": price,
                        "currency": "USD",
                        "weight_grams": grams,
                        "position": position,
                        "is_active": True,
                        **extra,
                    },
                )
                if created:
                    created_variants += 1
                    if stock and variant.track_stock:
                        stock_set(
                            variant_id=variant.pk,
                            on_hand=stock,
                            reason="receive",
                            reference="seed_catalogue",
                        )
        self.stdout.write(
            f"Catalogue: {len(CATEGORIES)} categories, {len(PRODUCTS)} products, "
            f"{created_variants} new variants."
        )
