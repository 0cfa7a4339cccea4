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

Query counts per step are pinned by the test suite (test client), not here.
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

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1600 Amphitheatre Pkwy",
    "city": "Mountain View",
    "region": "CA",
    "postal_code": "94043",
    "country": "US",
    "phone": "+1 650 253 0000",
}
PROCESSES = {
    "web": ("gunicorn", "runserver", "run_dev"),
    "postgres": ("postgres:",),
    "localstripe": ("localstripe",),
}


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


def cpu_ticks() -> dict[str, int]:
    """utime+stime of every process whose command line names a group."""
    ticks: dict[str, int] = defaultdict(int)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for group, needles in PROCESSES.items():
            if any(n in cmdline for n in needles):
                ticks[group] += int(fields[11]) + int(fields[12])
                break
    return ticks


class StepFailed(Exception):
    pass


class Client:
    def __init__(self, args, timings):
        self.api = args.base_url.rstrip("/") + "/api/v1"
        self.stripe = args.stripe_url.rstrip("/")
        self.args = args
        self.timings = timings

    def step(self, name, method, url, body=None, *, may_fail=False, **kwargs):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--stripe-url", default="http://127.0.0.1:8420")
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sku", help="variant to buy (default: the first in stock)")
    parser.add_argument("--coupon", help="code every cart applies")
    parser.add_argument("--email", help="one email for every order (coupon races)")
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
    timings = defaultdict(list)
    client = Client(args, timings)
    before, started = cpu_ticks(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        outcomes = list(
            pool.map(lambda n: client.order_or_failure(sku, n), range(args.orders))
        )
    elapsed = time.perf_counter() - started
    after = cpu_ticks()

    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
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
    for group in PROCESSES:
        spent = (after.get(group, 0) - before.get(group, 0)) * tick_ms
        print(f"CPU per order, {group}: {spent / args.orders:.0f} ms")
    for outcome in outcomes:
        print(outcome)


if __name__ == "__main__":
    main()
