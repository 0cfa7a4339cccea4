import threading

import pytest
from django.db import connection

from apps.coupons import selectors, services
from apps.coupons.exceptions import CouponNotApplicable, CouponNotFound
from apps.coupons.models import Coupon, CouponRedemption
from apps.coupons.pricing import PricingLine
from tests.coupons.factories import CouponFactory, CouponRedemptionFactory

pytestmark = pytest.mark.django_db


def _redeem(code, order_ref="order-1", customer_key="email:a@example.com", **kw):
    return services.coupon_redeem(
        code=code,
        order_ref=order_ref,
        customer_key=customer_key,
        discount_minor=kw.pop("discount_minor", 250),
        currency="USD",
        **kw,
    )


def test_coupon_get_by_code_any_case_returns_coupon():
    coupon = CouponFactory(code="SUMMER10")
    assert selectors.coupon_get_by_code(code="  summer10 ") == coupon


def test_coupon_get_by_code_unknown_raises_not_found():
    with pytest.raises(CouponNotFound) as exc:
        selectors.coupon_get_by_code(code="NOPE")
    assert exc.value.code == "coupon_not_found"


def test_coupon_code_unique_ignoring_case():
    from django.db import IntegrityError

    CouponFactory(code="SAME")
    with pytest.raises(IntegrityError):
        CouponFactory(code="same")


def test_coupon_redeem_counts_use_and_records_redemption():
    coupon = CouponFactory(usage_limit=2)
    redemption = _redeem(coupon.code, discount_minor=321)
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1
    assert redemption.discount_minor == 321
    assert CouponRedemption.objects.filter(coupon=coupon).count() == 1


def test_coupon_redeem_same_order_twice_counts_once():
    coupon = CouponFactory(usage_limit=5)
    first = _redeem(coupon.code, order_ref="o-1")
    second = _redeem(coupon.code, order_ref="o-1")
    coupon.refresh_from_db()
    assert first.pk == second.pk
    assert coupon.times_redeemed == 1


def test_coupon_redeem_over_total_limit_raises_usage_limit_reached():
    coupon = CouponFactory(usage_limit=1)
    _redeem(coupon.code, order_ref="o-1")
    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon.code, order_ref="o-2", customer_key="email:b@example.com")
    assert exc.value.code == "coupon_usage_limit_reached"
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 1


def test_coupon_redeem_over_customer_limit_raises_customer_limit_reached():
    coupon = CouponFactory(per_customer_limit=1)
    _redeem(coupon.code, order_ref="o-1", customer_key="user:7")
    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon.code, order_ref="o-2", customer_key="user:7")
    assert exc.value.code == "coupon_customer_limit_reached"
    _redeem(coupon.code, order_ref="o-3", customer_key="user:8")


@pytest.mark.parametrize(
    ("traits", "order_count", "code"),
    [
        ({"expired": True}, 0, "coupon_expired"),
        ({"not_started": True}, 0, "coupon_not_started"),
        ({"inactive": True}, 0, "coupon_inactive"),
        ({"is_first_order_only": True}, 1, "coupon_first_order_only"),
    ],
)
def test_coupon_redeem_refused_coupon_raises_specific_code(traits, order_count, code):
    coupon = CouponFactory(**traits)
    with pytest.raises(CouponNotApplicable) as exc:
        _redeem(coupon.code, customer_order_count=order_count)
    assert exc.value.code == code
    assert not CouponRedemption.objects.exists()


def test_coupon_redeem_first_order_only_first_order_succeeds():
    coupon = CouponFactory(is_first_order_only=True)
    assert _redeem(coupon.code, customer_order_count=0).coupon == coupon


def test_coupon_redemptions_release_gives_use_back():
    coupon = CouponFactory(usage_limit=1)
    _redeem(coupon.code, order_ref="o-1")
    assert services.coupon_redemptions_release(order_ref="o-1") == 1
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 0
    _redeem(coupon.code, order_ref="o-2")


def test_coupon_generate_codes_creates_unique_single_use_copies():
    template = CouponFactory(code="TEMPLATE", value=1500, per_customer_limit=None)
    created = services.coupon_generate_codes(template=template, count=25, prefix="vip")
    codes = {c.code for c in created}
    assert len(codes) == 25
    assert all(code.startswith("VIP") for code in codes)
    stored = Coupon.objects.filter(generated_from=template)
    assert stored.count() == 25
    assert set(stored.values_list("usage_limit", flat=True)) == {1}
    assert set(stored.values_list("value", flat=True)) == {1500}


def test_coupons_evaluate_customer_limit_reached_for_signed_in_customer():
    coupon = CouponFactory(per_customer_limit=1)
    CouponRedemptionFactory(coupon=coupon, customer_key="user:5")
    line = PricingLine(key=1, variant_id=1, quantity=1, unit_price_minor=1000)
    evaluation = services.coupons_evaluate(
        coupons=list(selectors.coupons_for_ids(ids=[coupon.pk]).values()),
        lines=[line],
        currency="USD",
        customer_key="user:5",
    )
    assert evaluation.refusal(coupon.code).error == "coupon_customer_limit_reached"
    assert evaluation.breakdown.total_minor == 1000


# --- real parallel redemptions (PostgreSQL) ------------------------------------


def _race(n, target):
    barrier = threading.Barrier(n)
    results = []
    lock = threading.Lock()

    def run(i):
        try:
            barrier.wait()
            try:
                target(i)
                outcome = "ok"
            except CouponNotApplicable as exc:
                outcome = exc.code
            with lock:
                results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_coupon_redeem_twenty_parallel_orders_limit_three_exactly_three_succeed():
    coupon = CouponFactory(code="LIMIT3", usage_limit=3)
    results = _race(
        20,
        lambda i: _redeem("LIMIT3", order_ref=f"order-{i}", customer_key=f"user:{i}"),
    )
    assert results.count("ok") == 3
    assert results.count("coupon_usage_limit_reached") == 17
    coupon.refresh_from_db()
    assert coupon.times_redeemed == 3
    assert CouponRedemption.objects.filter(coupon=coupon).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_coupon_redeem_ten_parallel_same_email_limit_one_exactly_one_succeeds():
    coupon = CouponFactory(code="ONCE", per_customer_limit=1)
    results = _race(
        10,
        lambda i: _redeem(
            "ONCE", order_ref=f"order-{i}", customer_key="email:same@example.com"
        ),
    )
    assert results.count("ok") == 1
    assert results.count("coupon_customer_limit_reached") == 9
    assert CouponRedemption.objects.filter(coupon=coupon).count() == 1
