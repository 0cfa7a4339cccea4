"""Time the analytics job on generated history in PostgreSQL.

Generates N subscriptions with up to 12 months of event history (starts
spread over the months, a fifth upgraded once, a third cancelled), and M
orders (four in five paid) with one line each, all with set-based SQL
(generate_series), then times:

- one nightly run (the last 3 days up to yesterday), and
- a backfill of the whole period (``range_compute`` over every day).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench_analytics \
    .venv/bin/python benchmarks/analytics.py [--subscriptions 100000] \
        [--orders 1000000] [--months 12] [--backfill-days N] [--steps] \
        [--skip-generate]

The issue's target size is 100,000 subscriptions and 1,000,000 orders; the
defaults are smaller so a run fits a shared development machine, and the
script prints the size it ran. The database is created when missing,
migrated, and its analytics, subscription and order rows are replaced: use
a scratch database. Not a test: numbers depend on the machine. Each figure
comes with the CPU seconds of this process and of its PostgreSQL backend
(parallel workers' CPU is not counted), which say more than wall time on a
shared machine. ``--steps`` adds wall time per service; ``--skip-generate``
reuses the previous run's rows (same size, same day) to compare a change.
"""

import argparse
import datetime as dt
import functools
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _prepare_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True
        )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        check=True,
    )


class _Clock:
    """Wall time, this process's CPU and the PostgreSQL backend's CPU.

    The backend's CPU comes from /proc/<pid>/stat (utime + stime), which is
    readable when PostgreSQL runs on this machine; on a shared machine the
    CPU seconds say more than the wall time.
    """

    def __init__(self, backend_pid: int) -> None:
        self._stat = Path(f"/proc/{backend_pid}/stat")
        self._tick = os.sysconf("SC_CLK_TCK")

    def _backend(self) -> float:
        try:
            fields = self._stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / self._tick

    def read(self) -> tuple[float, float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return (
            time.perf_counter(),
            usage.ru_utime + usage.ru_stime,
            self._backend(),
        )

    def since(self, then: tuple[float, float, float]) -> str:
        now = self.read()
        wall, py, pg = (b - a for a, b in zip(then, now, strict=True))
        return f"{wall:.1f} s wall, PostgreSQL {pg:.1f} CPU-s, Python {py:.1f} CPU-s"


class _Steps:
    """Accumulate wall time per analytics step (``--steps``)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def wrap(self, module: object, name: str) -> None:
        original = getattr(module, name)

        @functools.wraps(original)
        def timed(*args: object, **kwargs: object) -> object:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[name] = self.totals.get(name, 0.0) + (
                    time.perf_counter() - t
                )

        setattr(module, name, timed)

    def report(self) -> str:
        parts = sorted(self.totals.items(), key=lambda kv: -kv[1])
        self.totals = {}
        return ", ".join(f"{name} {sec:.1f} s" for name, sec in parts)


GENERATE = """
TRUNCATE analytics_dailysubscriptionsnapshot, analytics_mrrmovement,
    analytics_dailymetrics, analytics_cohortmonth, analytics_computedday;
DELETE FROM subscriptions_subscriptionevent WHERE reason = 'bench';
DELETE FROM subscriptions_subscription WHERE stripe_id LIKE 'sub_bench%%';
DELETE FROM checkout_orderline WHERE sku = 'BENCH';
DELETE FROM checkout_order WHERE number LIKE 'B%%';
DELETE FROM accounts_user WHERE email LIKE 'bench%%@example.com';

INSERT INTO accounts_user (password, is_superuser, first_name, last_name,
    is_staff, is_active, date_joined, email, name)
SELECT '!', false, '', '', false, true, now(), 'bench' || g || '@example.com', ''
FROM generate_series(1, %(subs)s) g;

CREATE TEMP TABLE bench_sub AS
SELECT u.id AS user_id,
       %(start)s::timestamptz + (random() * %(span)s) * interval '1 day' AS t0,
       random() AS r_upgrade, random() AS r_churn, random() AS r_price
FROM accounts_user u WHERE u.email LIKE 'bench%%@example.com';

INSERT INTO subscriptions_subscription (created_at, updated_at, user_id,
    price_id, status, stripe_id, cancel_at_period_end, default_payment_method,
    payment_method_label)
SELECT b.t0, b.t0, b.user_id,
       CASE WHEN b.r_upgrade < 0.2 THEN %(pro)s
            WHEN b.r_price < 0.3 THEN %(annual)s ELSE %(basic)s END,
       CASE WHEN b.r_churn < 0.33 THEN 'canceled' ELSE 'active' END,
       'sub_bench' || b.user_id, false, '', ''
FROM bench_sub b;

INSERT INTO subscriptions_subscriptionevent (subscription_id, from_status,
    to_status, reason, actor, amount_minor, currency, details, created_at)
SELECT s.id, '', 'active', 'bench', 'system', 1000, 'USD', '{}', b.t0
FROM subscriptions_subscription s JOIN bench_sub b ON b.user_id = s.user_id;

-- An upgrade from basic to pro, a fortnight in.
INSERT INTO subscriptions_subscriptionevent (subscription_id, from_status,
    to_status, reason, actor, amount_minor, currency, details, created_at)
SELECT s.id, 'active', 'active', 'bench', 'system', 3000, 'USD',
       jsonb_build_object('from_price', %(basic)s, 'to_price', %(pro)s),
       b.t0 + interval '14 days'
FROM subscriptions_subscription s JOIN bench_sub b ON b.user_id = s.user_id
WHERE b.r_upgrade < 0.2;

INSERT INTO subscriptions_subscriptionevent (subscription_id, from_status,
    to_status, reason, actor, amount_minor, currency, details, created_at)
SELECT s.id, 'active', 'canceled', 'bench', 'system', 1000, 'USD', '{}',
       b.t0 + interval '30 days' + (b.r_churn * 200) * interval '1 day'
FROM subscriptions_subscription s JOIN bench_sub b ON b.user_id = s.user_id
WHERE b.r_churn < 0.33;

INSERT INTO checkout_order (created_at, updated_at, number, email,
    marketing_consent, status, currency, subtotal_minor, discount_minor,
    shipping_minor, shipping_discount_minor, tax_minor, total_minor,
    refunded_minor, prices_include_tax, taxes, coupons, shipping_method_name,
    requires_shipping, carrier, tracking_number, paid_at, credit_hold_ref,
    credit_minor, credit_refunded_minor)
SELECT t, t, 'B' || g, 'buyer@example.com', false,
       CASE WHEN g %% 5 = 0 THEN 'pending_payment' ELSE 'paid' END,
       CASE WHEN g %% 4 = 0 THEN 'EUR' ELSE 'USD' END,
       2000, 100, 500, 0, 180, 2580, 0, false, '[]', '[]', 'Standard', true,
       '', '', CASE WHEN g %% 5 = 0 THEN NULL ELSE t + interval '2 minutes' END,
       '', 0, 0
FROM (SELECT g, %(start)s::timestamptz + (random() * %(span)s) * interval '1 day' AS t
      FROM generate_series(1, %(orders)s) g) o;

INSERT INTO checkout_orderline (order_id, sku, title, quantity,
    unit_price_minor, subtotal_minor, discount_minor, tax_minor, total_minor,
    weight_grams, backordered_quantity, refunded_quantity, refunded_minor)
SELECT id, 'BENCH', 'Mug', 2, 1000, 2000, 100, 180, 2080, 0, 0, 0, 0
FROM checkout_order WHERE number LIKE 'B%%';
ANALYZE;
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument(
        "--backfill-days",
        type=int,
        default=0,
        help="Backfill only the last N days (default: the whole period).",
    )
    parser.add_argument(
        "--steps", action="store_true", help="Print wall time per analytics step."
    )
    parser.add_argument(
        "--skip-generate",
        action="store_true",
        help="Reuse the rows of the previous run (same size and day).",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("Set DATABASE_URL to a scratch PostgreSQL database.")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    _prepare_database(url)

    import django

    django.setup()
    from django.db import connection

    from apps.analytics.services import jobs
    from apps.analytics.services.jobs import nightly_run, range_compute
    from apps.subscriptions.models import Plan, PlanPrice

    today = dt.datetime.now(dt.UTC).date()
    span_days = args.months * 30
    start_day = today - dt.timedelta(days=span_days)

    plan, _ = Plan.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    prices = {}
    for key, amount, interval in (
        ("basic", 1000, "month"),
        ("pro", 3000, "month"),
        ("annual", 10000, "year"),
    ):
        prices[key], _ = PlanPrice.objects.get_or_create(
            plan=plan, amount_minor=amount, interval=interval, currency="USD"
        )

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        clock = _Clock(cursor.fetchone()[0])
    steps = _Steps()
    if args.steps:
        for name in (
            "snapshot_write",
            "snapshot_carry_forward",
            "movements_write",
            "metrics_write",
            "cohorts_write",
        ):
            steps.wrap(jobs, name)

    t = clock.read()
    with connection.cursor() as cursor:
        if args.skip_generate:
            cursor.execute(
                "TRUNCATE analytics_dailysubscriptionsnapshot, analytics_mrrmovement,"
                " analytics_dailymetrics, analytics_cohortmonth,"
                " analytics_computedday"
            )
        else:
            cursor.execute(
                GENERATE,
                {
                    "subs": args.subscriptions,
                    "orders": args.orders,
                    "start": start_day.isoformat(),
                    "span": span_days,
                    "basic": prices["basic"].pk,
                    "pro": prices["pro"].pk,
                    "annual": prices["annual"].pk,
                },
            )
    print(
        f"generated {args.subscriptions:,} subscriptions with {args.months} months "
        f"of history and {args.orders:,} orders"
        f"{' (reused)' if args.skip_generate else ''}: {clock.since(t)}",
        flush=True,
    )

    t = clock.read()
    nightly_run(today=today)
    wall = time.perf_counter() - t[0]
    print(
        f"nightly run (3 days): {clock.since(t)}   (target ≤ 60 s at full size)",
        flush=True,
    )
    if args.steps:
        print(f"  steps: {steps.report()}", flush=True)

    days = args.backfill_days or span_days

    def progress(day: dt.date) -> None:
        if day.day == 1:
            print(f"  … {day}: {time.perf_counter() - t[0]:.0f} s", flush=True)

    t = clock.read()
    range_compute(
        start=today - dt.timedelta(days=days),
        end=today - dt.timedelta(days=1),
        progress=progress,
    )
    wall = time.perf_counter() - t[0]
    print(
        f"backfill ({days} days): {clock.since(t)}, {wall / days:.3f} s a day"
        f"   (target ≤ 600 s for 12 months at full size)",
        flush=True,
    )
    if args.steps:
        print(f"  steps: {steps.report()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
