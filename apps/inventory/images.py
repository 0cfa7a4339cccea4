"""Product pictures: upload checks by content, and resized copies made once.

Pages serve only the renditions (WebP, at RENDITION_WIDTHS, never upscaled),
so a phone never downloads a multi-megapixel original.
"""

from __future__ import annotations

import io
import re
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from apps.inventory.models import ProductImage

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
RENDITION_WIDTHS = (240, 480, 800, 1200)
# The widest rendition a phone-sized viewport is offered (see _picture.html).
PHONE_MAX_WIDTH = 800
RENDITION_QUALITY = 80

# Markup or code hidden in a file that is otherwise a valid image (a polyglot):
# a browser sniffing the content, or a careless download, could run it.
_ACTIVE_CONTENT = re.compile(
    rb"<\s*(?:script|svg|html|iframe|object|embed)\b|javascript:|<\?php", re.IGNORECASE
)


def product_image_validate(file: IO[bytes]) -> tuple[int, int]:
    """Check an upload is a JPEG, PNG or WebP picture and nothing else.

    Return its (width, height). Raise ValidationError when it is too large,
    not one of those formats by content (an SVG, whatever its name), too many
    pixels, or carries markup or script.
    """
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, io.SEEK_END)
        size = file.tell()
    if size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            "The file is larger than 10 MB.", code="image_too_large_bytes"
        )
    file.seek(0)
    data = file.read()
    file.seek(0)
    if _ACTIVE_CONTENT.search(data):
        raise ValidationError(
            "The file contains markup or script; upload a plain JPEG, PNG or WebP.",
            code="image_active_content",
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            width, height = image.size
            if fmt not in ALLOWED_FORMATS:
                raise ValidationError(
                    "Upload a JPEG, PNG or WebP picture.", code="image_bad_format"
                )
            if width * height > MAX_PIXELS:
                raise ValidationError(
                    f"The picture is {width} × {height}: at most 40 megapixels.",
                    code="image_too_many_pixels",
                )
            image.verify()
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            "Upload a JPEG, PNG or WebP picture.", code="image_bad_format"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ValidationError(
            "The picture has too many pixels (at most 40 megapixels).",
            code="image_too_many_pixels",
        ) from exc
    return width, height


def _rendition_widths(original_width: int) -> list[int]:
    widths = [w for w in RENDITION_WIDTHS if w < original_width]
    # One copy at the original width when it is narrower than the next step.
    if original_width <= RENDITION_WIDTHS[-1]:
        widths.append(original_width)
    return sorted(set(widths)) or [RENDITION_WIDTHS[-1]]


def renditions_build(*, source: IO[bytes], stem: str) -> tuple[int, int, list[dict]]:
    """Write WebP copies of the picture at each rendition width.

    Return the original (width, height) and the renditions, narrowest first.
    """
    source.seek(0)
    with Image.open(source) as opened:
        width, height = opened.size
        # JPEG decodes at a fraction of full size when that is enough: a
        # 24-megapixel photo then costs a fraction of the memory and time.
        opened.draft("RGB", (RENDITION_WIDTHS[-1], RENDITION_WIDTHS[-1]))
        image: Any = ImageOps.exif_transpose(opened)
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        renditions = []
        for target in _rendition_widths(width):
            target_height = max(1, round(height * target / width))
            copy = image.resize((target, target_height), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            copy.save(
                buffer,
                "WEBP",
                quality=RENDITION_QUALITY,
                method=settings.PRODUCT_IMAGE_WEBP_METHOD,
            )
            name = default_storage.save(
                f"products/renditions/{stem}-{target}w.webp",
                ContentFile(buffer.getvalue()),
            )
            renditions.append({"width": target, "height": target_height, "name": name})
    return width, height, renditions


@transaction.atomic
def product_image_renditions_refresh(*, image: ProductImage) -> ProductImage:
    """Make the renditions of a stored picture (after upload or replacement).

    Raise ValidationError when the stored file is not an acceptable picture.
    """
    old = [r["name"] for r in image.renditions or []]
    with image.image.open("rb") as source:
        product_image_validate(source)
        stem = PurePosixPath(str(image.image.name)).stem
        image.width, image.height, image.renditions = renditions_build(
            source=source, stem=stem
        )
    image.full_clean(exclude=["image"])
    image.save(update_fields=["width", "height", "renditions"])
    keep = {r["name"] for r in image.renditions}

    def delete_old() -> None:
        for name in old:
            if name not in keep:
                default_storage.delete(name)

    transaction.on_commit(delete_old)
    return image


@transaction.atomic
def product_image_add(
    *,
    product_id: int,
    file: IO[bytes],
    filename: str,
    alt_text: str = "",
    position: int = 0,
    variant_id: int | None = None,
) -> ProductImage:
    """Store a picture of a product with its renditions.

    Raise ValidationError when the file is not an acceptable picture.
    """
    product_image_validate(file)
    image = ProductImage(
        product_id=product_id,
        variant_id=variant_id,
        alt_text=alt_text,
        position=position,
    )
    file.seek(0)
    image.image.save(PurePosixPath(filename).name, ContentFile(file.read()), save=False)
    image.full_clean(exclude=["width", "height", "renditions"])
    image.save()
    return product_image_renditions_refresh(image=image)


def image_srcset(image: ProductImage, *, max_width: int | None = None) -> str:
    """The ``srcset`` of a picture's renditions, optionally capped in width."""
    renditions = image.renditions or []
    chosen = [r for r in renditions if max_width is None or r["width"] <= max_width]
    if not chosen and renditions:
        chosen = renditions[:1]
    return ", ".join(f"{default_storage.url(r['name'])} {r['width']}w" for r in chosen)


def image_fallback(image: ProductImage, *, max_width: int) -> dict | None:
    """The widest rendition no wider than max_width (else the narrowest)."""
    renditions = image.renditions or []
    if not renditions:
        return None
    fitting = [r for r in renditions if r["width"] <= max_width]
    return fitting[-1] if fitting else renditions[0]
