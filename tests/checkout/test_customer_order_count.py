"""customer_order_count: first-order-only counts earlier guest orders."""

import pytest

from apps.checkout import services

pytestmark = pytest.mark.django_db


def test_customer_order_count_user_counts_guest_orders_of_verified_email():
    from allauth.account.models import EmailAddress

    from tests.accounts.factories import UserFactory
    from tests.checkout.test_views import make_order

    user = UserFactory()
    EmailAddress.objects.create(
        user=user, email="Ada@Example.com", verified=True, primary=True
    )
    make_order(email="ada@example.com")  # paid as a guest before signing up
    make_order(email="unverified@example.com")
    EmailAddress.objects.create(user=user, email="unverified@example.com")

    assert services.customer_order_count(f"user:{user.pk}") == 1
