"""Drive the API checkout as a mobile client does, with N clients at once.

Against a running shop (``make run``, or gunicorn with PostgreSQL and Redis)
and its localstripe: each order is cart → line → (coupon) → checkout →
address → shipping method → payment → confirm at Stripe (as the SDK does,
with the publishable key) → complete. Prints orders per second, p50/p95 per
step, the outcome of every completion, and the CPU milliseconds per order
spent by the web server, PostgreSQL and localstripe (read from /proc, so
only for processes on this machine).

    .venv/bin/python benchmarks/checkout.py --orders 40 --clients 4
    # the first-order coupon race, by hand: four shoppers, one email, one code
    .venv/bin/python benchmarks/checkout.py --orders 4 --clients 4 \
        --email same@example.com --coupon WELCOME10

A server of the benchmark's own, as issue 12 measures it (gunicorn with 2
workers against PostgreSQL shop_bench_checkout, Redis db 12, a Celery worker,
localstripe on a port of its own), with the statements of every request
logged by benchmarks/gunicorn_query_log.py, and the per-client checkout
limits raised (every simulated client shares one address; the limiter still
counts every request):

    export DJANGO_SETTINGS_MODULE=config.settings.local DJANGO_READ_DOT_ENV=0 \
        DJANGO_DEBUG=0 DJANGO_LOG_LEVEL=WARNING \
        DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench_checkout \
        REDIS_URL=redis://127.0.0.1:6379/12 LOCALSTRIPE_PORT=18420 \
        STRIPE_API_HOST=http://127.0.0.1:18420 SITE_URL=http://127.0.0.1:18000 \
        BENCH_QUERY_LOG=var/bench-queries.log \
        CHECKOUT_RATE=1000000/m CHECKOUT_PAYMENT_RATE=1000000/m
    createdb -h 127.0.0.1 -U postgres shop_bench_checkout
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo
    .venv/bin/python scripts/localstripe_runner.py --port 18420 \
        --data-file var/bench-localstripe.pickle &
    .venv/bin/python manage.py stripe_dev_setup
    .venv/bin/celery -A config worker --hostname bench-checkout@%h -c 1 &
    .venv/bin/gunicorn -c benchmarks/gunicorn_query_log.py config.wsgi \
        --bind 127.0.0.1:18000 --workers 2 &
    .venv/bin/python benchmarks/checkout.py --base-url http://127.0.0.1:18000 \
        --stripe-url http://127.0.0.1:18420 --database shop_bench_checkout \
        --worker-match bench-checkout@ --query-log var/bench-queries.log \
        --orders 200 --clients 4

CPU is counted for this server's processes only: gunicorn bound to the base
URL's port, localstripe on the Stripe URL's port, PostgreSQL backends of
--database (all backends without it) and, with --worker-match, the Celery
worker whose command line holds that string. Queries per step come from
--query-log (each request sends its step in X-Bench-Step); the test suite
pins the same counts exactly (tests/checkout/test_query_budget.py).
Not a test: numbers depend on the machine. Requests go to loopback only.
"""

import argparse
import json
import os
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from _server import CpuSampler  # benchmarks/ is on sys.path when run

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1600 Amphitheatre Pkwy",
    "city": "Mountain View",
    "region": "CA",
    "postal_code": "94043",
    "country": "US",
    "phone": "+1 650 253 0000",
}
PROCESSES = ("web", "postgres", "localstripe", "worker")


def call(method, url, body=None, *, headers=None, form=False):
    data = None
    headers = dict(headers or {})
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def process_group(cmdline: str, args) -> str | None:
    """Which of this benchmark's server processes a command line is, if any."""
    web_port = urllib.parse.urlsplit(args.base_url).port or 80
    stripe_port = urllib.parse.urlsplit(args.stripe_url).port or 80
    if cmdline.startswith("postgres: "):
        if not args.database or f" {args.database} " in cmdline:
            return "postgres"
        return None
    if any(n in cmdline for n in ("gunicorn", "runserver", "run_dev")):
        return "web" if f":{web_port}" in cmdline else None
    if "localstripe" in cmdline:
        return "localstripe" if f"--port {stripe_port}" in cmdline else None
    if args.worker_match and "celery" in cmdline and args.worker_match in cmdline:
        return "worker"
    return None


def server_processes(args) -> dict[int, str]:
    """{pid: group} of every process of this benchmark's server."""
    groups: dict[int, str] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        group = process_group(cmdline, args)
        if group:
            groups[int(pid)] = group
    return groups


class StepFailed(Exception):
    pass


class Client:
    def __init__(self, args, timings):
        self.api = args.base_url.rstrip("/") + "/api/v1"
        self.stripe = args.stripe_url.rstrip("/")
        self.args = args
        self.timings = timings

    def step(self, name, method, url, body=None, *, may_fail=False, **kwargs):
        kwargs["headers"] = {**kwargs.get("headers", {}), "X-Bench-Step": name}
        started = time.perf_counter()
        status, payload = call(method, url, body, **kwargs)
        self.timings[name].append(time.perf_counter() - started)
        if status >= 400 and not may_fail:
            code = (payload or {}).get("error", {}).get("code", payload)
            raise StepFailed(f"{name} answered {status} {code}")
        return status, payload

    def order_or_failure(self, sku: str, n: int) -> str:
        try:
            return self.order(sku, n)
        except StepFailed as failure:
            return str(failure)

    def order(self, sku: str, n: int) -> str:
        idem = {"Idempotency-Key": str(uuid.uuid4())}
        _, cart = self.step("cart", "POST", f"{self.api}/carts/", {}, headers=idem)
        cart_id = cart["id"]
        self.step(
            "line",
            "POST",
            f"{self.api}/carts/{cart_id}/lines/",
            {"sku": sku, "quantity": 1},
        )
        if self.args.coupon:
            status, body = self.step(
                "coupon",
                "POST",
                f"{self.api}/carts/{cart_id}/coupons/",
                {"code": self.args.coupon},
                may_fail=True,
            )
            if status >= 400:
                return f"coupon refused: {body['error']['code']}"
        email = self.args.email or f"bench-{n}-{uuid.uuid4().hex[:6]}@example.com"
        status, checkout = self.step(
            "checkout",
            "POST",
            f"{self.api}/checkouts/",
            {"cart": cart_id, "email": email},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        checkout_id = checkout["id"]
        url = f"{self.api}/checkouts/{checkout_id}/"
        self.step(
            "address",
            "PATCH",
            url,
            {"shipping_address": ADDRESS, "billing_same_as_shipping": True},
        )
        _, methods = self.step("methods", "GET", f"{url}shipping-methods/")
        self.step("method", "PATCH", url, {"shipping_method": methods[0]["id"]})
        status, session = self.step(
            "payment",
            "POST",
            f"{url}payment/",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            may_fail=True,
        )
        if status != 200:
            return f"payment refused: {session['error']['code']}"
        self.confirm(session)
        status, order = self.step(
            "complete",
            "POST",
            f"{url}complete/",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            may_fail=True,
        )
        if status != 200:
            return f"complete {status}: {order['error']['code']}"
        discount = order.get("totals", {}).get("discount", {}).get("amount")
        return f"order {order['number']} {order['status']} discount {discount}"

    def confirm(self, session):
        """Confirm with the publishable key and client secret, as Stripe.js
        does: one request carrying the card as payment_method_data."""
        started = time.perf_counter()
        call(
            "POST",
            f"{self.stripe}/v1/payment_intents/{session['payment_intent_id']}/confirm",
            {
                "key": session["publishable_key"],
                "client_secret": session["client_secret"],
                "payment_method_data[type]": "card",
                "payment_method_data[card][number]": "4242424242424242",
                "payment_method_data[card][exp_month]": "12",
                "payment_method_data[card][exp_year]": "2034",
                "payment_method_data[card][cvc]": "123",
            },
            form=True,
        )
        self.timings["confirm"].append(time.perf_counter() - started)


def print_queries(path: str) -> None:
    """Queries and web CPU per step from the server's log (requests without a
    step, such as localstripe's webhook deliveries, are grouped by path).
    The CPU is the gunicorn worker's own for the request, so it says which
    step to look at; the sampled figure below also counts what happens
    between requests."""
    per_step: dict[str, list[int]] = defaultdict(list)
    cpu_per_step: dict[str, list[float]] = defaultdict(list)
    with open(path) as log:
        for line in log:
            step, method, request_path, count, *cpu = line.split()
            if step == "-":
                step = f"{method} {request_path.split('/')[1]}/… (no step)"
            per_step[step].append(int(count))
            if cpu:
                cpu_per_step[step].append(float(cpu[0]))
    print(
        f"{'queries':10} {'min':>5} {'p50':>5} {'max':>5} {'n':>5}"
        f" {'web CPU ms p50':>15} {'mean':>6}"
    )
    for step, counts in per_step.items():
        cpu_ms = cpu_per_step.get(step) or [0.0]
        print(
            f"{step:10} {min(counts):5d} {statistics.median(counts):5.0f}"
            f" {max(counts):5d} {len(counts):5d}"
            f" {statistics.median(cpu_ms):15.1f} {statistics.fmean(cpu_ms):6.1f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--stripe-url", default="http://127.0.0.1:8420")
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sku", help="variant to buy (default: the first in stock)")
    parser.add_argument("--coupon", help="code every cart applies")
    parser.add_argument("--email", help="one email for every order (coupon races)")
    parser.add_argument(
        "--database", help="count only PostgreSQL backends of this database"
    )
    parser.add_argument(
        "--worker-match", help="count the Celery worker whose command line has this"
    )
    parser.add_argument(
        "--query-log", help="the server's BENCH_QUERY_LOG: print queries per step"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=4,
        help="orders placed before measuring, so a fresh server's first-request "
        "costs (imports, URL resolver, templates) are not counted",
    )
    args = parser.parse_args()
    for url in (args.base_url, args.stripe_url):
        host = urllib.parse.urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing to send load to {host}: loopback only")

    sku = args.sku
    if not sku:
        _, products = call("GET", f"{args.base_url}/api/v1/products/?page_size=50")
        for product in products["results"]:
            variants = [
                v for v in product["variants"] if v.get("available", 0) >= args.orders
            ]
            if variants and product.get("requires_shipping", True):
                sku = variants[0]["sku"]
                break
    if args.warmup:
        warm = Client(args, defaultdict(list))
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            warmed = list(
                pool.map(lambda n: warm.order_or_failure(sku, n), range(args.warmup))
            )
        print(
            f"warm-up: {args.warmup} orders "
            f"({sum(o.startswith('order') for o in warmed)} placed)"
        )
    timings = defaultdict(list)
    client = Client(args, timings)
    if args.query_log:
        open(args.query_log, "w").close()
    sampler = CpuSampler(lambda: server_processes(args))
    sampler.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        outcomes = list(
            pool.map(lambda n: client.order_or_failure(sku, n), range(args.orders))
        )
    elapsed = time.perf_counter() - started
    cpu = sampler.stop()

    print(f"{args.orders} orders, {args.clients} clients, sku {sku}: {elapsed:.1f} s")
    print(f"orders per second: {args.orders / elapsed:.2f}")
    print(f"{'step':10} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}")
    for name, values in timings.items():
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(
            f"{name:10} {statistics.median(values) * 1000:8.1f} {p95 * 1000:8.1f}"
            f" {len(values):5d}"
        )
    spent = {group: cpu.get(group, 0.0) / args.orders for group in PROCESSES}
    for group in PROCESSES:
        print(f"CPU per order, {group}: {spent[group]:.0f} ms")
    print(f"CPU per order, web + postgres: {spent['web'] + spent['postgres']:.0f} ms")
    confirms = timings["confirm"]
    if len(confirms) >= 10:
        tenth = len(confirms) // 10
        deciles = [
            statistics.median(confirms[i * tenth : (i + 1) * tenth]) * 1000
            for i in range(10)
        ]
        print(
            "confirm p50 per tenth of the run, first to last (ms): "
            + " ".join(f"{d:.1f}" for d in deciles)
        )
        edge = min(200, len(confirms) // 2)
        print(
            f"confirm p50, first {edge} vs last {edge} orders (ms): "
            f"{statistics.median(confirms[:edge]) * 1000:.1f} vs "
            f"{statistics.median(confirms[-edge:]) * 1000:.1f}"
        )
    if args.query_log:
        print_queries(args.query_log)
    for outcome in outcomes:
        print(outcome)


if __name__ == "__main__":
    main()
