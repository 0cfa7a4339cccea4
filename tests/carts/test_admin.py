import pytest

from tests.carts.factories import CartFactory, CartLineFactory

pytestmark = pytest.mark.django_db


def test_cart_admin_changelist_and_change_page_load(client, django_user_model):
    admin = django_user_model.objects.create_superuser(
        email="admin@example.com", password="x"
    )
    client.force_login(admin)
    line = CartLineFactory(cart=CartFactory(user=admin))
    response = client.get("/admin/carts/cart/")
    assert response.status_code == 200
    assert str(line.cart.pk).encode() in response.content
    change = client.get(f"/admin/carts/cart/{line.cart.pk}/change/")
    assert change.status_code == 200
    assert line.variant.sku.encode() in change.content or b"variant" in change.content
