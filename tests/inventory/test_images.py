import io
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.inventory import images
from apps.inventory.forms import ProductImageAdminForm
from apps.inventory.models import ProductImage
from tests.inventory.factories import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings):
    # tests/conftest.py points MEDIA_ROOT at a temporary directory per test.
    return settings.MEDIA_ROOT


def _jpeg(width=64, height=48, comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(
        buffer, "JPEG", quality=70, comment=comment
    )
    return buffer.getvalue()


def _form(product, content: bytes, name: str, content_type="image/jpeg"):
    return ProductImageAdminForm(
        data={"alt_text": "Front", "position": 0},
        files={"image": SimpleUploadedFile(name, content, content_type=content_type)},
        instance=ProductImage(product=product),
    )


SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<script>alert(document.cookie)</script><rect width="10" height="10"/></svg>"""


def test_admin_image_form_svg_named_jpg_is_refused_with_form_error():
    form = _form(ProductFactory(), SVG, "photo.jpg")
    assert not form.is_valid()
    assert form.errors["image"]
    assert not ProductImage.objects.exists()


def test_admin_image_form_plain_svg_is_refused_as_not_a_picture():
    plain = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'
    with pytest.raises(ValidationError) as exc:
        images.product_image_validate(io.BytesIO(plain))
    assert exc.value.code in {"image_bad_format", "image_active_content"}


def test_admin_image_form_jpeg_with_embedded_script_is_refused():
    content = _jpeg(comment=b"<script>alert(1)</script>")
    # It is a valid JPEG: only the script makes it unacceptable.
    assert Image.open(io.BytesIO(content)).format == "JPEG"
    form = _form(ProductFactory(), content, "innocent.jpg")
    assert not form.is_valid()
    assert "script" in form.errors["image"][0]


def test_admin_image_form_gif_is_refused():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "GIF")
    form = _form(ProductFactory(), buffer.getvalue(), "x.png", "image/png")
    assert not form.is_valid()
    assert form.errors["image"] == ["Upload a JPEG, PNG or WebP picture."]


def test_image_validate_over_40_megapixels_is_refused():
    buffer = io.BytesIO()
    Image.new("L", (8000, 5001)).save(buffer, "PNG")  # 40.008 MP, a few KB
    with pytest.raises(ValidationError) as exc:
        images.product_image_validate(buffer)
    assert exc.value.code == "image_too_many_pixels"


def test_image_validate_over_10_mb_is_refused():
    big = io.BytesIO(_jpeg() + b"\0" * (10 * 1024 * 1024))
    with pytest.raises(ValidationError) as exc:
        images.product_image_validate(big)
    assert exc.value.code == "image_too_large_bytes"


def test_admin_image_form_6000x4000_jpeg_stored_with_renditions(media_root):
    product = ProductFactory()
    form = _form(product, _jpeg(6000, 4000), "huge.jpg")
    assert form.is_valid(), form.errors
    image = form.save()
    image.refresh_from_db()
    assert (image.width, image.height) == (6000, 4000)
    assert [r["width"] for r in image.renditions] == [240, 480, 800, 1200]
    for rendition in image.renditions:
        stored = Image.open(Path(media_root) / rendition["name"])
        assert stored.format == "WEBP"
        assert stored.size == (rendition["width"], rendition["height"])
    assert image.renditions[-1]["height"] == 800


def test_product_page_phone_never_offered_more_than_800px(client):
    variant = VariantFactory(stock=3)
    image = images.product_image_add(
        product_id=variant.product_id,
        file=io.BytesIO(_jpeg(6000, 4000)),
        filename="huge.jpg",
        alt_text="A huge photo",
    )

    html = client.get(f"/products/{variant.product.slug}/").content.decode()

    phone = re.search(r'<source media="\(max-width: 640px\)"\s+srcset="([^"]+)"', html)
    assert phone, html
    widths = [int(w) for w in re.findall(r" (\d+)w", phone.group(1))]
    assert widths
    assert max(widths) <= images.PHONE_MAX_WIDTH
    assert image.image.url not in html  # the 6000 px original is never served
    assert 'alt="A huge photo"' in html


def test_product_list_card_shows_lazy_picture(client):
    variant = VariantFactory(stock=3)
    images.product_image_add(
        product_id=variant.product_id,
        file=io.BytesIO(_jpeg(900, 600)),
        filename="a.jpg",
    )
    html = client.get("/products/").content.decode()
    card = html[html.index('data-testid="product-card"') :]
    assert 'loading="lazy"' in card[: card.index("</li>")]
    assert "srcset=" in card[: card.index("</li>")]


def test_variant_image_comes_first_on_its_variant_page(client):
    product = ProductFactory()
    navy = VariantFactory(product=product, stock=2, option_values={"colour": "Navy"})
    VariantFactory(product=product, stock=2, option_values={"colour": "Red"})
    images.product_image_add(
        product_id=product.pk,
        file=io.BytesIO(_jpeg()),
        filename="p.jpg",
        alt_text="Whole range",
    )
    images.product_image_add(
        product_id=product.pk,
        file=io.BytesIO(_jpeg()),
        filename="n.jpg",
        alt_text="Navy one",
        position=5,
        variant_id=navy.pk,
    )
    html = client.get(f"/products/{product.slug}/?variant={navy.sku}").content.decode()
    assert html.index('alt="Navy one"') < html.index('alt="Whole range"')


def test_cart_page_shows_each_line_picture_in_one_query(
    client, django_assert_num_queries
):
    variants = [VariantFactory(stock=5) for _ in range(3)]
    for variant in variants:
        images.product_image_add(
            product_id=variant.product_id,
            file=io.BytesIO(_jpeg()),
            filename="p.jpg",
            alt_text=f"Photo of {variant.product.title}",
        )
        client.post("/cart/add/", {"sku": variant.sku, "quantity": 1})

    html = client.get("/cart/").content.decode()

    for variant in variants:
        assert f'alt="Photo of {variant.product.title}"' in html
