"""/metrics after a real checkout on localstripe: the values are the shop's."""

from __future__ import annotations

import pytest

from apps.checkout import services as checkout_services
from apps.checkout.models import Order
from tests.checkout.conftest import api_checkout_to_payment, idem
from tests.checkout.test_api import sdk_confirm
from tests.core.test_metrics import allow_scrape, scrape, value
from tests.subscriptions.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.localstripe
def test_metrics_after_declined_then_paid_checkout_and_refund(
    api_client,
    client,
    make_cart,
    shipping_method,
    localstripe,
    settings,
    django_capture_on_commit_callbacks,
):
    allow_scrape(settings)
    SubscriptionFactory(status="active")
    SubscriptionFactory(status="past_due")
    before = scrape(client)

    cart = make_cart()
    session = api_checkout_to_payment(api_client, cart, method=shipping_method)
    assert sdk_confirm(localstripe, session, "4000000000000002").status_code == 402
    complete = f"/api/v1/checkouts/{session['checkout_id']}/complete/"
    with django_capture_on_commit_callbacks(execute=True):
        declined = api_client.post(complete, format="json", **idem())
    assert declined.status_code == 402
    again = api_client.post(
        f"/api/v1/checkouts/{session['checkout_id']}/payment/", format="json"
    ).json()
    assert sdk_confirm(localstripe, again).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        paid = api_client.post(complete, format="json", **idem())
    assert paid.json()["status"] == "paid"
    with django_capture_on_commit_callbacks(execute=True):
        checkout_services.order_refund(order=Order.objects.get())

    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("shop_orders_paid_total", currency="USD") == 1
    assert delta("shop_payments_failed_total", source="checkout") == 1
    assert delta("shop_refunds_total", currency="USD") == 1
    assert (
        delta("shop_refunded_minor_total", currency="USD")
        == paid.json()["totals"]["total"]["amount"]
    )
    # django-prometheus: requests by view and status, and latency histograms.
    view = "api-checkout-complete"
    assert (
        delta(
            "django_http_responses_total_by_status_view_method_total",
            method="POST",
            status="402",
            view=view,
        )
        == 1
    )
    assert (
        delta(
            "django_http_requests_latency_seconds_by_view_method_count",
            method="POST",
            view=view,
        )
        == 2
    )
    # Gauges read from the database at scrape time.
    assert value(after, "shop_subscriptions", status="active") == 1
    assert value(after, "shop_subscriptions", status="past_due") == 1
    assert ("shop_outbox_lag_seconds", ()) in after
