"""apps/billing/gateway/subscriptions.py against localstripe (no mocks)."""

import uuid

import pytest

from apps.billing.exceptions import PaymentDeclined, PaymentProviderError
from apps.billing.gateway import subscriptions as gw
from tests.subscriptions.conftest import CARD_DECLINED, confirm, intent_id

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db]


def _customer() -> str:
    return gw.customer_create_for_user(
        user_id=int(uuid.uuid4().int % 10**9), email="g@example.com"
    )


def _start(price, **kw):
    return gw.subscription_create(
        customer_id=_customer(),
        price_id=price.stripe_price_id,
        idempotency_key=str(uuid.uuid4()),
        **kw,
    )


def test_customer_create_for_user_twice_returns_same_customer(localstripe):
    first = gw.customer_create_for_user(user_id=424242, email="a@example.com")

    assert gw.customer_create_for_user(user_id=424242, email="a@example.com") == first


def test_subscription_create_is_incomplete_until_the_client_confirms(pushed_price):
    price = pushed_price(amount=1500)

    snap = _start(price)

    assert (snap.status, snap.secret_kind) == ("incomplete", "payment_intent")
    assert snap.price_id == price.stripe_price_id
    assert snap.current_period_end > snap.current_period_start
    confirm(snap.client_secret)
    after = gw.subscription_retrieve(subscription_id=snap.id)
    assert (after.status, after.client_secret, after.secret_kind) == ("active", "", "")
    invoice = gw.invoice_retrieve(invoice_id=after.latest_invoice_id)
    assert (invoice.status, invoice.amount_paid_minor, invoice.currency) == (
        "paid",
        1500,
        "USD",
    )
    assert invoice.payment_intent_id == intent_id(snap.client_secret)
    assert invoice.subscription_id == snap.id
    assert [line.amount_minor for line in invoice.lines] == [1500]


def test_subscription_create_same_key_returns_the_same_subscription(pushed_price):
    price = pushed_price()
    customer, key = _customer(), str(uuid.uuid4())

    first, second = (
        gw.subscription_create(
            customer_id=customer, price_id=price.stripe_price_id, idempotency_key=key
        )
        for _ in range(2)
    )

    assert (first.id, first.client_secret) == (second.id, second.client_secret)
    assert len(gw.invoice_list(customer_id=customer)) == 1


def test_subscription_declined_card_stays_incomplete(pushed_price):
    snap = _start(pushed_price())

    with pytest.raises(PaymentDeclined):
        confirm(snap.client_secret, CARD_DECLINED)

    assert gw.subscription_retrieve(subscription_id=snap.id).status == "incomplete"


def test_subscription_with_trial_returns_a_setup_intent(pushed_price):
    price = pushed_price(trial_days=14)

    snap = _start(price, trial_days=14)

    assert snap.status == "trialing"
    assert snap.secret_kind == "setup_intent"
    assert snap.client_secret.startswith("seti_")
    assert (snap.trial_end - snap.current_period_start).days in (13, 14)
    assert gw.invoice_list(customer_id=snap.customer) == []


def test_subscription_cancel_at_period_end_then_resume(pushed_price):
    snap = _start(pushed_price())
    confirm(snap.client_secret)

    cancelling = gw.subscription_cancel(
        subscription_id=snap.id, at_period_end=True, idempotency_key=str(uuid.uuid4())
    )
    resumed = gw.subscription_resume(
        subscription_id=snap.id, idempotency_key=str(uuid.uuid4())
    )

    assert (cancelling.status, cancelling.cancel_at_period_end) == ("active", True)
    assert (resumed.status, resumed.cancel_at_period_end) == ("active", False)


def test_subscription_cancel_now_ends_it(pushed_price):
    snap = _start(pushed_price())
    confirm(snap.client_secret)

    ended = gw.subscription_cancel(
        subscription_id=snap.id, at_period_end=False, idempotency_key=str(uuid.uuid4())
    )

    assert ended.status == "canceled"
    assert ended.ended_at is not None


def test_subscription_change_price_and_preview(pushed_price):
    starter = pushed_price(amount=1000)
    pro = pushed_price(amount=3000)
    snap = _start(starter)
    confirm(snap.client_secret)

    preview = gw.invoice_preview_price_change(
        customer_id=snap.customer,
        subscription_id=snap.id,
        item_id=snap.item_id,
        price_id=pro.stripe_price_id,
    )
    changed = gw.subscription_change_price(
        subscription_id=snap.id,
        item_id=snap.item_id,
        price_id=pro.stripe_price_id,
        idempotency_key=str(uuid.uuid4()),
    )

    # localstripe credits the whole paid invoice ("Unused time") and charges
    # the new price in full: no time-based proration (Stripe prorates).
    assert sorted(line.amount_minor for line in preview.lines) == [-1000, 3000]
    assert preview.amount_due_minor == 2000
    assert changed.price_id == pro.stripe_price_id


def test_subscription_retrieve_unknown_raises_provider_error(localstripe):
    with pytest.raises(PaymentProviderError):
        gw.subscription_retrieve(subscription_id="sub_nope")


def test_setup_intent_create_gives_a_client_secret(localstripe):
    seti = gw.setup_intent_create(
        customer_id=_customer(), idempotency_key=str(uuid.uuid4())
    )

    assert seti.client_secret.startswith(seti.id + "_secret_")
    assert seti.status == "requires_payment_method"


def _coupon(**terms):
    from apps.billing import gateway

    return gateway.coupon_ensure(coupon_id=f"gw-{uuid.uuid4().hex[:10]}", **terms)


def test_subscription_create_with_coupon_discounts_first_invoice(pushed_price):
    from decimal import Decimal

    price = pushed_price(amount=2000)
    coupon = _coupon(duration="once", percent_off=Decimal(25))

    snap = _start(price, coupon=coupon.id)

    assert snap.discount_coupon_id == coupon.id
    invoice = gw.invoice_retrieve(invoice_id=snap.latest_invoice_id)
    assert (invoice.subtotal_minor, invoice.discount_minor, invoice.total_minor) == (
        2000,
        500,
        1500,
    )


def test_subscription_discount_set_discounts_next_invoice(pushed_price):
    from apps.billing.gateway.subscription_admin import subscription_discount_set

    price = pushed_price(amount=1000)
    snap = _start(price)
    confirm(snap.client_secret)
    coupon = _coupon(duration="forever", amount_off_minor=300, currency="USD")

    updated = subscription_discount_set(
        subscription_id=snap.id, coupon_id=coupon.id, idempotency_key=str(uuid.uuid4())
    )
    renewal = gw.renewal_invoice_create_and_pay(
        customer_id=snap.customer,
        subscription_id=snap.id,
        idempotency_key=str(uuid.uuid4()),
    )

    assert updated.discount_coupon_id == coupon.id
    assert (renewal.discount_minor, renewal.amount_paid_minor) == (300, 700)


def test_real_stripe_preview_and_change_send_the_same_proration_date(
    settings, monkeypatch
):
    # Real Stripe's request shapes (localstripe ignores proration_date): the
    # client is a fake that records what would be sent; nothing leaves.
    settings.STRIPE_API_HOST = "https://api.stripe.com"
    sent = {}

    class Invoices:
        def create_preview(self, *, params):
            sent["preview"] = params
            return {"id": "upcoming_1"}

    class Subscriptions:
        def update(self, subscription_id, *, params, options):
            sent["update"] = params
            return {"id": subscription_id}

    class V1:
        invoices = Invoices()
        subscriptions = Subscriptions()

    class Client:
        v1 = V1()

    monkeypatch.setattr(gw, "_client", Client)
    monkeypatch.setattr(gw, "_invoice_snapshot", lambda obj: obj)
    monkeypatch.setattr(gw, "_subscription_snapshot", lambda obj: obj)

    gw.invoice_preview_price_change(
        customer_id="cus_1",
        subscription_id="sub_1",
        item_id="si_1",
        price_id="price_pro",
        proration_date=1_800_000_000,
    )
    gw.subscription_change_price(
        subscription_id="sub_1",
        item_id="si_1",
        price_id="price_pro",
        proration_date=1_800_000_000,
        idempotency_key="k",
    )

    details = sent["preview"]["subscription_details"]
    assert details["proration_date"] == 1_800_000_000
    assert details["proration_behavior"] == "always_invoice"
    assert sent["update"]["proration_date"] == 1_800_000_000
    assert sent["update"]["proration_behavior"] == "always_invoice"
    assert sent["update"]["items"] == [{"id": "si_1", "price": "price_pro"}]
