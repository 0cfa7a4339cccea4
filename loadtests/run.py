"""Start the shop, load it with locust, print a short report.

    .venv/bin/python loadtests/run.py                 # smoke: 1 minute
    .venv/bin/python loadtests/run.py --profile soak  # soak: 30 minutes
    LOADTEST_DURATION=20 .venv/bin/python loadtests/run.py   # CI's short smoke

Starts localstripe and gunicorn on free loopback ports, as the benchmarks do,
against a scratch SQLite database (``var/loadtest.sqlite3``, eager Celery: the
embedded mode of ``make run``), or against PostgreSQL and Redis when
``DATABASE_URL`` and ``REDIS_URL`` are set (then a Celery worker and beat run
too; use scratch databases). Seeds the demo shop, plenty of stock and some
verified shoppers, then runs locust headless (``loadtests/locustfile.py``).

The report (also written to ``var/loadtest/report.txt``): requests per
second, p50/p95 per step, errors, steps skipped because the shop lacks them,
and a few of the shop's own /metrics figures. Exit status 1 when any request
failed; speed never fails the run (the numbers depend on the machine).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from _server import free_port, wait_for  # noqa: E402

from tests import dbtemplate  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PYTHON = str(BIN / "python")
OUT = ROOT / "var" / "loadtest"
PROFILES = {
    # users, spawn rate per second, seconds
    "smoke": (10, 5, 60),
    "soak": (30, 2, 30 * 60),
}
SHOPPERS = 20
USAGE_USERS = 5
SQLITE_DB = ROOT / "var" / "loadtest.sqlite3"
PASSWORD = "load-test-password-1"

SEED = r"""
import json
from allauth.account.models import EmailAddress
from django.urls import reverse
from djstripe.models import WebhookEndpoint
from apps.accounts.models import User
from apps.inventory.models import StockItem
from apps.subscriptions.models import Plan, PlanPrice, Subscription

StockItem.objects.update(on_hand=10_000_000)
users = []
for i in range(SHOPPERS):
    email = f"loadtest-{i}@example.com"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=PASSWORD)
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"primary": True, "verified": True}
    )
    users.append({"email": email, "password": PASSWORD})
# Metered usage needs a subscriber whose plan has the metric: a local plan with
# limits the load cannot reach, and a local subscription per usage user (the
# ingest path never calls Stripe, so no Stripe object is needed).
plan, _ = Plan.objects.update_or_create(
    slug="loadtest-usage",
    defaults={"name": "Load test usage", "visibility": "private",
              "limits": {"api_calls": {"per_day": 10**12, "per_month": 10**12}}},
)
price = plan.prices.first() or PlanPrice.objects.create(
    plan=plan, amount_minor=1000, currency="USD", interval="month")
usage_users = []
for i in range(USAGE_USERS):
    email = f"loadtest-usage-{i}@example.com"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=PASSWORD)
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"primary": True, "verified": True}
    )
    Subscription.objects.get_or_create(
        user=user, status="active",
        defaults={"price": price, "stripe_id": f"sub_loadtest_usage_{i}"},
    )
    usage_users.append({"email": email, "password": PASSWORD})
endpoints = WebhookEndpoint.objects.filter(url__startswith=SITE)
endpoint = endpoints.latest("djstripe_created")
path = reverse(
    "djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint.djstripe_uuid}
)
print("SEEDED=" + json.dumps({"users": users, "usage_users": usage_users,
                              "webhook_path": path,
                              "webhook_secret": endpoint.secret}))
"""


class Processes:
    """Children in their own process groups, stopped together."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], log: Path) -> subprocess.Popen:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def site_env(web_port: int, stripe_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "False",
        "DJANGO_LOG_LEVEL": "WARNING",
        "SITE_URL": f"http://127.0.0.1:{web_port}",
        "LOCALSTRIPE_PORT": str(stripe_port),
        "STRIPE_API_HOST": f"http://127.0.0.1:{stripe_port}",
        # Every simulated client comes from 127.0.0.1: one rate-limit bucket.
        "CHECKOUT_RATE": "1000000/m",
        "CHECKOUT_PAYMENT_RATE": "1000000/m",
        "COUPON_APPLY_RATE": "1000000/m",
        "ACCOUNT_WRITE_RATE": "1000000/m",
        "ACCOUNT_LOGIN_FAILED_RATE": "1000000/m",
        # gunicorn's workers and the Celery worker add up in one /metrics.
        "PROMETHEUS_MULTIPROC_DIR": str(OUT / "prometheus"),
        # No step reads analytics: seed_demo's year of simulated history would
        # cost 42 CPU-s of nightly computations instead of 11 for a fortnight,
        # on the CPUs CI's two suites share with this run.
        "ANALYTICS_DEMO_DAYS": os.environ.get("ANALYTICS_DEMO_DAYS", "14"),
    }
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = f"sqlite:///{SQLITE_DB}"
        env.pop("REDIS_URL", None)
    return env


def localstripe_data_file(env: dict[str, str]) -> Path:
    """Where localstripe keeps its objects for this database.

    The shop stores Stripe ids (customers, plans): its database and
    localstripe's data must start together. The SQLite database is fresh
    each run, so is localstripe's; a PostgreSQL database keeps its data, so
    its localstripe file is kept beside it, per database name.
    """
    if env["DATABASE_URL"].startswith("sqlite"):
        return OUT / "localstripe.pickle"
    name = env["DATABASE_URL"].rsplit("/", 1)[-1]
    return ROOT / "var" / f"loadtest-localstripe-{name}.pickle"


def fresh_sqlite(procs: Processes) -> None:
    """A new migrated SQLite database, copied from the test suite's template
    (dj-stripe's migrations alone take most of a minute); ``migrate`` then
    only confirms it is current."""
    SQLITE_DB.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{SQLITE_DB}{suffix}").unlink(missing_ok=True)
    SQLITE_DB.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dbtemplate.sqlite_template(), SQLITE_DB)
    procs.run("migrate", "--noinput", "-v", "0")


def percentile_rows(stats_csv: Path) -> list[dict[str, str]]:
    with stats_csv.open() as f:
        return list(csv.DictReader(f))


def shop_metrics(base: str) -> dict[str, float]:
    """A few business figures from the shop's own /metrics (loopback)."""
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
    except OSError as exc:
        return {f"/metrics unreachable: {exc}": 0}
    wanted = (
        "shop_orders_paid_total",
        "shop_payments_failed_total",
        "shop_outbox_lag_seconds",
        "shop_subscriptions{",
    )
    figures: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(wanted):
            name, _, number = line.rpartition(" ")
            figures[name] = float(number)
    return figures


def report(
    prefix: Path, profile: str, users: int, seconds: int, base: str
) -> tuple[str, int]:
    rows = percentile_rows(Path(f"{prefix}_stats.csv"))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    steps = sorted(
        (r for r in rows if r["Name"] != "Aggregated"), key=lambda r: r["Name"]
    )
    errors = int(total["Failure Count"])
    lines = [
        f"load test: {profile} profile, {users} users, {seconds} s",
        f"throughput: {float(total['Requests/s']):.1f} requests/s "
        f"({total['Request Count']} requests)",
        f"errors: {errors}",
        "",
        f"{'step':42} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}",
    ]
    for row in steps:
        lines.append(
            f"{row['Name'][:42]:42} {row['Request Count']:>6} {row['50%']:>8} "
            f"{row['95%']:>8} {row['Failure Count']:>6}"
        )
    failures = Path(f"{prefix}_failures.csv")
    if errors and failures.exists():
        lines += ["", "failures:"]
        for row in percentile_rows(failures):
            lines.append(f"  {row['Occurrences']}x {row['Name']}: {row['Error'][:160]}")
    skipped_file = OUT / "skipped.jsonl"
    if skipped_file.exists():
        skipped = {
            (s["step"], s["reason"])
            for s in map(json.loads, skipped_file.read_text().splitlines())
        }
        lines += ["", "skipped (not an error):"]
        lines += [f"  {step}: {reason}" for step, reason in sorted(skipped)]
    lines += ["", "the shop's /metrics after the run:"]
    lines += [f"  {k} {v:g}" for k, v in shop_metrics(base).items()]
    return "\n".join(lines), errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--users", type=int, help="override the profile's users")
    args = parser.parse_args()
    users, spawn_rate, seconds = PROFILES[args.profile]
    users = args.users or users
    seconds = int(os.environ.get("LOADTEST_DURATION") or seconds)

    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "prometheus").mkdir(parents=True)
    web_port, stripe_port = free_port(), free_port()
    env = site_env(web_port, stripe_port)
    base = env["SITE_URL"]
    procs = Processes(env)
    try:
        procs.start(
            [
                PYTHON,
                "scripts/localstripe_runner.py",
                "--port",
                str(stripe_port),
                "--data-file",
                str(localstripe_data_file(env)),
            ],
            OUT / "localstripe.log",
        )
        if env["DATABASE_URL"].startswith("sqlite"):
            fresh_sqlite(procs)
        else:
            procs.run("migrate", "--noinput", "-v", "0")
        procs.run("seed_demo")
        _wait_port(stripe_port)
        procs.run("stripe_dev_setup")
        procs.run("push_plans")
        out = procs.run(
            "shell",
            "-c",
            f"SHOPPERS={SHOPPERS}\nUSAGE_USERS={USAGE_USERS}\nPASSWORD={PASSWORD!r}\nSITE={base!r}\n"
            + SEED,
        )
        seeded = json.loads(
            next(x for x in out.splitlines() if x.startswith("SEEDED=")).removeprefix(
                "SEEDED="
            )
        )
        (OUT / "users.json").write_text(json.dumps(seeded["users"]))
        (OUT / "usage-users.json").write_text(json.dumps(seeded["usage_users"]))
        procs.start(
            [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            OUT / "gunicorn.log",
        )
        if env.get("REDIS_URL"):
            celery = [str(BIN / "celery"), "-A", "config"]
            procs.start([*celery, "worker", "-l", "warning"], OUT / "worker.log")
            procs.start([*celery, "beat", "-l", "warning"], OUT / "beat.log")
        wait_for(f"{base}/healthz", timeout=60)

        prefix = OUT / "stats"
        locust_env = {
            **env,
            "LOADTEST_STRIPE_URL": env["STRIPE_API_HOST"],
            "LOADTEST_STRIPE_KEY": "sk_test_" + "0" * 24 + "localstripe",
            "LOADTEST_WEBHOOK_PATH": seeded["webhook_path"],
            "LOADTEST_WEBHOOK_SECRET": seeded["webhook_secret"],
            "LOADTEST_USERS_FILE": str(OUT / "users.json"),
            "LOADTEST_USAGE_USERS_FILE": str(OUT / "usage-users.json"),
            "LOADTEST_SKIPPED_FILE": str(OUT / "skipped.jsonl"),
        }
        locust_env.pop("PROMETHEUS_MULTIPROC_DIR")
        started = time.monotonic()
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(ROOT / "loadtests" / "locustfile.py"),
                "--headless",
                "--host",
                base,
                "--users",
                str(users),
                "--spawn-rate",
                str(spawn_rate),
                "--run-time",
                f"{seconds}s",
                "--stop-timeout",
                "10",
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=locust_env,
            stdout=(OUT / "locust.log").open("w"),
            stderr=subprocess.STDOUT,
            check=False,
        )
        took = int(time.monotonic() - started)
        text, errors = report(prefix, args.profile, users, seconds, base)
    finally:
        procs.stop()
    text += f"\n(locust ran {took} s; logs in {OUT.relative_to(ROOT)}/)"
    (OUT / "report.txt").write_text(text + "\n")
    print(text)
    return 1 if errors else 0


def _wait_port(port: int, timeout: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"localstripe did not open port {port}")


if __name__ == "__main__":
    raise SystemExit(main())
