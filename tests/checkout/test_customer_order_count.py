"""customer_order_count: first-order-only counts earlier guest orders."""

import pytest

from apps.checkout import services

pytestmark = pytest.mark.django_db


def test_customer_order_count_user_counts_guest_orders_of_verified_email():
    from allauth.account.models import EmailAddress

    from tests.accounts.factories import UserFactory
    from tests.checkout.factories import OrderFactory

    user = UserFactory()
    EmailAddress.objects.create(
        user=user, email="Ada@Example.com", verified=True, primary=True
    )
    OrderFactory(paid=True, email="ada@example.com")  # as a guest, before signing up
    OrderFactory(paid=True, email="unverified@example.com")
    EmailAddress.objects.create(user=user, email="unverified@example.com")

    assert services.customer_order_count(f"user:{user.pk}") == 1
