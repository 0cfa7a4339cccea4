"""A hand-computed month of 22 customers: every figure of every day by hand.

Prices (MRR by DEFINITIONS.md, one round-half-up step):

    basic   USD 10.00 / month      → 1000
    pro     USD 30.00 / month      → 3000
    annual  USD 1,200.00 / year    → 120000 ÷ 12 = 10000
    weekly  EUR 2.50 / week        → 250 × 52 ÷ 12 = 1083.33 → 1083
    eur     EUR 9.00 / month       → 900
    free    USD 0 / month          → 0
    quarter USD 30.00 / 3 months   → 3000 ÷ 3 = 1000
    annual+ USD 2,400.00 / year    → 240000 ÷ 12 = 20000

Subscription coupons (the latest redemption before the day's end is the
discount; DEFINITIONS.md):

    25 % off forever          on basic: 1000 × (1 − 0.25)      = 750
    10.00 off, repeating 2 months, redeemed Nov 5 12:00, on pro:
                              3000 − 1000 = 2000 while in force; Nov 5 + 2
                              months = Jan 5, so in force to Jan 4, 3000 Jan 5
    50 % off once             ignored: MRR stays the full price

Customers (events at 12:00 UTC):

    A  basic, active since Dec 20
    B  basic, active Dec 20; upgraded to pro Jan 2           expansion +2000
    C  pro, active Dec 20; downgraded to basic Jan 3         contraction −2000
    D  annual, active Dec 1; cancel_at_period_end Dec 15;
       canceled at the end of the paid term Jan 4           churn −10000
    E  basic trial Dec 28 with a `once` 50 % coupon;
       paid Jan 2 (the once coupon is ignored)               new +1000
    F  basic trial Dec 28; canceled Jan 3 (never paid)       no movement
    G  basic, active Dec 20; past_due Jan 2; recovered Jan 4 no movement
    H  basic, active Nov 1, canceled Dec 10; new
       subscription active Jan 3                             reactivation +1000
    I  weekly EUR, active Dec 20
    J  eur, subscribes Jan 2                                  new +900 EUR
    K  basic, active Dec 20; canceled Jan 5                   churn −1000
    L  free, active Dec 20 (a free plan counts 0)            no movement
    M  basic, active Dec 20; unpaid Jan 3; active Jan 5      churn −1000,
                                                             reactivation +1000
    N  basic, active Dec 20; paused Jan 4                    churn −1000
    O  basic, joins Jan 2, cancels Jan 4                     new +1000, churn −1000
    P  eur, active Dec 20; canceled Jan 3                    churn −900 EUR
    Q  quarter, active Dec 20                                no movement
    R  annual Dec 1; upgraded to annual+ Jan 3 mid-term      expansion +10000
    S  basic, active Dec 20; past_due from Dec 30 on         no movement (at risk)
    T  annual trial Dec 28; paid Jan 4                       new +10000
    U  basic, active Dec 20 with a `forever` 25 % coupon     no movement (750)
    V  pro, active Oct 1; `repeating` 1000 off for 2 months
       from Nov 5; the months run out Jan 5 (2000 → 3000)    expansion +1000

USD MRR by day:

    Jan 1  A1000 B1000 C3000 D10000 G1000 K1000
           M1000 N1000 Q1000 R10000 S1000 U750 V2000             = 33750
    Jan 2  33750 + 2000 (B) + 1000 (E) + 1000 (O)                = 37750
    Jan 3  37750 − 2000 (C) + 1000 (H) − 1000 (M) + 10000 (R)    = 45750
    Jan 4  45750 − 10000 (D) − 1000 (N) − 1000 (O) + 10000 (T)   = 43750
    Jan 5  43750 − 1000 (K) + 1000 (M) + 1000 (V)                = 44750

MRR at risk (past_due): S all days, G on Jan 2 and 3.
Paying customers: Jan 1 13, Jan 2 15 (+E, O), Jan 3 15 (+H, −M),
Jan 4 13 (−D, N, O, +T), Jan 5 13 (−K, +M). Trialing: E F T, F T, T, 0, 0.

EUR MRR: Jan 1 1083 (I) + 900 (P) = 1983; Jan 2 + 900 (J) = 2883;
Jan 3..5 − 900 (P) = 1983.

Commerce:
    USD order paid Jan 2: subtotal 4500 (lines 2 × 1500 + 1 × 1500),
      discount 500, shipping 800, shipping discount 300, tax 200:
      total 4500 − 500 + 800 − 300 + 200 = 4700; units 3.
      Two checkouts started Jan 2, one paid → conversion 1 ÷ 2 = 5000 bp.
    USD order created Jan 2 and never paid: orders 2, paid orders 1.
    EUR order paid Jan 3: total 1000 + 500 shipping = 1500, 1 unit.
    EUR refund of 700 on Jan 4: refunds 700, net revenue −700 that day,
      and no MRR movement.
"""

import datetime as dt

import pytest
import time_machine

from apps.analytics.models import DailyMetrics, MrrMovement
from apps.analytics.services.jobs import range_compute
from apps.checkout.models import Order
from tests.accounts.factories import UserFactory
from tests.analytics.factories import at, coupon_redeemed, history
from tests.billing.factories import RefundFactory
from tests.checkout.factories import CheckoutFactory, OrderFactory, OrderLineFactory
from tests.subscriptions.factories import PlanPriceFactory

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat


@pytest.fixture
def month():
    basic = PlanPriceFactory(amount_minor=1000, plan__slug="basic")
    pro = PlanPriceFactory(amount_minor=3000, plan__slug="pro")
    annual = PlanPriceFactory(amount_minor=120000, interval="year")
    weekly = PlanPriceFactory(amount_minor=250, interval="week", currency="EUR")
    eur = PlanPriceFactory(amount_minor=900, currency="EUR")
    free = PlanPriceFactory(amount_minor=0)
    quarter = PlanPriceFactory(amount_minor=3000, interval_count=3)
    annual_plus = PlanPriceFactory(amount_minor=240000, interval="year")
    users = {name: UserFactory() for name in "ABCDEFGHIJKLMNOPQRSTUV"}
    start = at("2025-12-20")
    history([(start, "active", basic, None)], user=users["A"])
    history(
        [(start, "active", basic, None), (at("2026-01-02"), "active", pro, None)],
        user=users["B"],
    )
    history(
        [(start, "active", pro, None), (at("2026-01-03"), "active", basic, None)],
        user=users["C"],
    )
    history(
        [
            (at("2025-12-01"), "active", annual, None),
            (at("2025-12-15"), "active", annual, {"cancel_at_period_end": True}),
            (at("2026-01-04"), "canceled", annual, None),
        ],
        user=users["D"],
    )
    e = history(
        [
            (at("2025-12-28"), "trialing", basic, None),
            (at("2026-01-02"), "active", basic, None),
        ],
        user=users["E"],
    )
    coupon_redeemed(e, when=at("2025-12-28"), duration="once", value=5000)
    history(
        [
            (at("2025-12-28"), "trialing", basic, None),
            (at("2026-01-03"), "canceled", basic, None),
        ],
        user=users["F"],
    )
    history(
        [
            (start, "active", basic, None),
            (at("2026-01-02"), "past_due", basic, None),
            (at("2026-01-04"), "active", basic, None),
        ],
        user=users["G"],
    )
    history(
        [
            (at("2025-11-01"), "active", basic, None),
            (at("2025-12-10"), "canceled", basic, None),
        ],
        user=users["H"],
    )
    history([(at("2026-01-03"), "active", basic, None)], user=users["H"])
    history([(start, "active", weekly, None)], user=users["I"])
    history([(at("2026-01-02"), "active", eur, None)], user=users["J"])
    history(
        [(start, "active", basic, None), (at("2026-01-05"), "canceled", basic, None)],
        user=users["K"],
    )

    u = users
    history([(start, "active", free, None)], user=u["L"])
    history(
        [
            (start, "active", basic, None),
            (at("2026-01-03"), "unpaid", basic, None),
            (at("2026-01-05"), "active", basic, None),
        ],
        user=u["M"],
    )
    history(
        [(start, "active", basic, None), (at("2026-01-04"), "paused", basic, None)],
        user=u["N"],
    )
    history(
        [
            (at("2026-01-02"), "active", basic, None),
            (at("2026-01-04"), "canceled", basic, None),
        ],
        user=u["O"],
    )
    history(
        [(start, "active", eur, None), (at("2026-01-03"), "canceled", eur, None)],
        user=u["P"],
    )
    history([(start, "active", quarter, None)], user=u["Q"])
    history(
        [
            (at("2025-12-01"), "active", annual, None),
            (at("2026-01-03"), "active", annual_plus, None),
        ],
        user=u["R"],
    )
    history(
        [(start, "active", basic, None), (at("2025-12-30"), "past_due", basic, None)],
        user=u["S"],
    )
    history(
        [
            (at("2025-12-28"), "trialing", annual, None),
            (at("2026-01-04"), "active", annual, None),
        ],
        user=u["T"],
    )
    subscription = history([(start, "active", basic, None)], user=u["U"])
    coupon_redeemed(subscription, when=start, duration="forever", value=2500)
    subscription = history([(at("2025-10-01"), "active", pro, None)], user=u["V"])
    coupon_redeemed(
        subscription,
        when=at("2025-11-05"),
        duration="repeating",
        months=2,
        kind="fixed_amount",
        value=1000,
    )

    with time_machine.travel(at("2026-01-02", 9), tick=False):
        paid = OrderFactory(
            paid=True,
            payment=False,
            lines=False,
            subtotal_minor=4500,
            discount_minor=500,
            shipping_minor=800,
            shipping_discount_minor=300,
            tax_minor=200,
        )
        OrderLineFactory(order=paid, quantity=2, unit_price_minor=1500)
        OrderLineFactory(order=paid, quantity=1, unit_price_minor=1500)
        # lines=False zeroes the subtotal; put the hand totals back.
        Order.objects.filter(pk=paid.pk).update(subtotal_minor=4500, total_minor=4700)
        OrderFactory(payment=False)
        CheckoutFactory()
        CheckoutFactory()
    with time_machine.travel(at("2026-01-03", 9), tick=False):
        eur_order = OrderFactory(paid=True, payment=False, currency="EUR")
    with time_machine.travel(at("2026-01-04", 9), tick=False):
        RefundFactory(
            payment__currency="EUR",
            payment__amount_minor=1500,
            payment__reference=eur_order.number,
            amount_minor=700,
        )
    range_compute(start=D("2026-01-01"), end=D("2026-01-05"))
    return users


# day: (mrr, at_risk, scheduled_churn, paying, trialing,
#       new, reactivation, expansion, contraction, churn, net_new)
USD_SUBSCRIPTIONS = {
    "2026-01-01": (33750, 1000, 10000, 13, 3, 0, 0, 0, 0, 0, 0),
    "2026-01-02": (37750, 2000, 10000, 15, 2, 2000, 0, 2000, 0, 0, 4000),
    "2026-01-03": (45750, 2000, 10000, 15, 1, 0, 1000, 10000, -2000, -1000, 8000),
    "2026-01-04": (43750, 1000, 0, 13, 0, 10000, 0, 0, 0, -12000, -2000),
    "2026-01-05": (44750, 1000, 0, 13, 0, 0, 1000, 1000, 0, -1000, 1000),
}
EUR_SUBSCRIPTIONS = {
    "2026-01-01": (1983, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0),
    "2026-01-02": (2883, 0, 0, 3, 0, 900, 0, 0, 0, 0, 900),
    "2026-01-03": (1983, 0, 0, 2, 0, 0, 0, 0, 0, -900, -900),
    "2026-01-04": (1983, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0),
    "2026-01-05": (1983, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0),
}
SUB_FIELDS = (
    "mrr_minor",
    "mrr_at_risk_minor",
    "scheduled_churn_minor",
    "paying_customers",
    "trialing_customers",
    "new_minor",
    "reactivation_minor",
    "expansion_minor",
    "contraction_minor",
    "churn_minor",
    "net_new_minor",
)
# day: (orders, paid, gmv, discounts, shipping, tax, refunds, net revenue,
#       aov, units, checkouts, conversion bp)
ZERO = (0,) * 12
USD_COMMERCE = {
    "2026-01-02": (2, 1, 4700, 800, 500, 200, 0, 4700, 4700, 3, 2, 5000),
}
EUR_COMMERCE = {
    "2026-01-03": (1, 1, 1500, 0, 500, 0, 0, 1500, 1500, 1, 0, 0),
    "2026-01-04": (0, 0, 0, 0, 0, 0, 700, -700, 0, 0, 0, 0),
}
COMMERCE_FIELDS = (
    "orders",
    "paid_orders",
    "gmv_minor",
    "discounts_minor",
    "shipping_minor",
    "tax_minor",
    "refunds_minor",
    "net_revenue_minor",
    "aov_minor",
    "units",
    "checkouts_started",
    "conversion_bp",
)


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_fixture_month_every_metric_of_every_day_matches_hand_figures(month, currency):
    subs = USD_SUBSCRIPTIONS if currency == "USD" else EUR_SUBSCRIPTIONS
    commerce = USD_COMMERCE if currency == "USD" else EUR_COMMERCE
    for day, expected in subs.items():
        row = DailyMetrics.objects.get(day=D(day), currency=currency)
        got = tuple(getattr(row, f) for f in SUB_FIELDS)
        assert got == expected, (day, dict(zip(SUB_FIELDS, got, strict=True)))
        got = tuple(getattr(row, f) for f in COMMERCE_FIELDS)
        want = commerce.get(day, ZERO)
        assert got == want, (day, dict(zip(COMMERCE_FIELDS, got, strict=True)))


def test_fixture_month_movements_are_booked_per_customer(month):
    got = {
        (m.day.isoformat(), m.user_id): (m.kind, m.amount_minor)
        for m in MrrMovement.objects.all()
    }
    u = {name: user.pk for name, user in month.items()}
    assert got == {
        ("2026-01-02", u["B"]): ("expansion", 2000),
        ("2026-01-02", u["E"]): ("new", 1000),
        ("2026-01-02", u["J"]): ("new", 900),
        ("2026-01-03", u["C"]): ("contraction", -2000),
        ("2026-01-03", u["H"]): ("reactivation", 1000),
        ("2026-01-04", u["D"]): ("churn", -10000),
        ("2026-01-05", u["K"]): ("churn", -1000),
        ("2026-01-02", u["O"]): ("new", 1000),
        ("2026-01-03", u["M"]): ("churn", -1000),
        ("2026-01-03", u["R"]): ("expansion", 10000),
        ("2026-01-03", u["P"]): ("churn", -900),
        ("2026-01-04", u["N"]): ("churn", -1000),
        ("2026-01-04", u["O"]): ("churn", -1000),
        ("2026-01-04", u["T"]): ("new", 10000),
        ("2026-01-05", u["M"]): ("reactivation", 1000),
        ("2026-01-05", u["V"]): ("expansion", 1000),
    }


def test_fixture_month_rates_over_jan_2_to_5_match_hand_figures(month):
    """USD, period Jan 2–5 against its start (Jan 1: MRR 33750, 13 paying).

    movements: new 12000 (E 1000, O 1000, T 10000), reactivation 2000 (H, M),
               expansion 13000 (B 2000, R 10000, V 1000), contraction −2000 (C),
               churn −14000 (M 1000, D 10000, N 1000, O 1000, K 1000)
    customer churn  = 4 (M, D, N, K) ÷ 13 paying on Jan 1; O joined and left
                      within the period and is excluded    = 3077 bp (3076.92)
    gross MRR churn = (2000 + 14000) ÷ 33750                 = 4741 bp (4740.74)
    net MRR churn   = (16000 − 13000 − 2000) ÷ 33750         =  296 bp (296.30)
    quick ratio     = (12000 + 2000 + 13000) ÷ 16000         = 1.69 (×100: 168.75)
    ARPA on Jan 5   = 44750 ÷ 13                             = 3442 (3442.31)
    ARR             = 12 × 44750                             = 537000
    net new MRR     = 44750 − 33750                          = 11000
    trial conversion: E, F and T ended their trials, E and T
                      paid within 7 days: 2 ÷ 3               = 6667 bp (6666.67)
    """
    from apps.analytics.selectors import summary_tiles

    tiles = {
        t.key: t.value
        for t in summary_tiles(
            start=D("2026-01-02"), end=D("2026-01-05"), currency="USD"
        )
    }
    assert tiles["churn_bp"] == 3077
    assert tiles["gross_mrr_churn_bp"] == 4741
    assert tiles["net_mrr_churn_bp"] == 296
    assert tiles["quick_ratio_x100"] == 169
    assert tiles["arpa"] == 3442
    assert tiles["arr"] == 537000
    assert tiles["net_new"] == 11000
    assert tiles["trial_conversion_bp"] == 6667
