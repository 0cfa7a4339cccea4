"""Add-to-cart and view-cart throughput (API and page), plus queries per request.

Starts gunicorn on a free loopback port against PostgreSQL (DATABASE_URL) and
Redis (REDIS_URL), migrates, seeds a small catalogue and a coupon, then sends
a bounded number of requests from a small thread pool and prints requests per
second and latencies for: add to cart (API), view cart (API) and the cart
page (GET /cart/ with a session cart).

The SQL queries per request are NOT measured in the gunicorn run: they are
counted with Django's test client in a separate ``manage.py shell`` process
against the same database and settings, and printed under that label.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench_carts \
    REDIS_URL=redis://127.0.0.1:6379/14 \
    .venv/bin/python benchmarks/carts_throughput.py [--requests 400] [--threads 4]

Both URLs are required (environment or --database-url / --redis-url); the
database is created when missing and migrated. Use a scratch database: the
script writes carts and a catalogue into it. Not a test: numbers depend on
the machine.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

from _server import free_port, wait_for  # benchmarks/ is on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
SKUS = [f"BENCH-{i:03d}" for i in range(30)]

SEED_AND_COUNT = r"""
import json, uuid
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from apps.inventory.models import Category, Product, Variant, StockItem
from apps.coupons.models import Coupon

cat, _ = Category.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
prod, _ = Product.objects.get_or_create(
    slug="bench-product", defaults={"title": "Bench product", "category": cat}
)
for sku in SKUS:
    v, _ = Variant.objects.get_or_create(
        sku=sku, defaults={"product": prod, "price_minor": 1999, "currency": "USD"}
    )
    StockItem.objects.update_or_create(variant=v, location="main",
                                       defaults={"on_hand": 10_000_000})
Coupon.objects.get_or_create(code="BENCH10", defaults={"kind": "percentage",
                                                       "value": 1000})

client = Client(HTTP_HOST="127.0.0.1")
def count(method, url, body=None):
    with CaptureQueriesContext(connection) as ctx:
        if body is None:
            response = getattr(client, method)(url)
        else:
            response = getattr(client, method)(url, json.dumps(body),
                                               content_type="application/json")
    assert response.status_code < 300, (url, response.status_code, response.content)
    return len(ctx.captured_queries), response

out = {}
n, response = count("post", "/api/v1/carts/", {})
cart = response.json()["id"]
out["create cart (API)"] = n
for i, sku in enumerate(SKUS[:5]):
    n, _ = count("post", f"/api/v1/carts/{cart}/lines/", {"sku": sku, "quantity": 1})
out["add to cart, new line (API)"] = n
n, _ = count("post", f"/api/v1/carts/{cart}/lines/", {"sku": SKUS[0], "quantity": 1})
out["add to cart, existing line (API)"] = n
n, _ = count("get", f"/api/v1/carts/{cart}/")
out["view cart, 5 lines (API)"] = n
count("post", f"/api/v1/carts/{cart}/coupons/", {"code": "BENCH10"})
n, _ = count("get", f"/api/v1/carts/{cart}/")
out["view cart, 5 lines + coupon (API)"] = n
client.post("/cart/add/", {"sku": SKUS[1], "quantity": 1})
client.post("/cart/add/", {"sku": SKUS[2], "quantity": 1})
with CaptureQueriesContext(connection) as ctx:
    client.post("/cart/add/", {"sku": SKUS[3], "quantity": 1})
out["add to cart (page POST, session cart)"] = len(ctx.captured_queries)
with CaptureQueriesContext(connection) as ctx:
    client.get("/cart/")
out["view cart page (3 lines, header count)"] = len(ctx.captured_queries)
print("QUERIES=" + json.dumps(out))
"""


def call(method: str, url: str, body: dict | None = None) -> tuple[int, float, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    elapsed = time.perf_counter() - start
    try:
        parsed = json.loads(payload) if payload else {}
    except ValueError:
        parsed = {}
    return status, elapsed, parsed


def page_session(base: str, skus: list[str]) -> urllib.request.OpenerDirector:
    """Return a cookie-keeping client whose session cart holds these SKUs.

    The lines go in through the page's own form (CSRF token and all), as a
    browser would put them there.
    """
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/cart/", timeout=30) as response:
        response.read()
    token = next((c.value for c in jar if c.name == "csrftoken"), None)
    if token is None:
        sys.exit("GET /cart/ set no csrftoken cookie; cannot fill a page cart")
    for sku in skus:
        form = {"sku": sku, "quantity": 1, "csrfmiddlewaretoken": token}
        request = urllib.request.Request(
            f"{base}/cart/add/", data=urllib.parse.urlencode(form).encode()
        )
        with opener.open(request, timeout=30) as response:
            response.read()
    return opener


def call_page(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        with opener.open(url, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - start


def measure(name: str, total: int, threads: int, job) -> None:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def one(i: int) -> None:
        nonlocal failures
        status, elapsed = job(i)[:2]
        with lock:
            latencies.append(elapsed)
            if status >= 300:
                failures += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(total)))
    wall = time.perf_counter() - start
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    p50 = statistics.median(latencies)
    print(
        f"{name:<48} {total / wall:8.1f} req/s   p50 {p50 * 1000:6.1f} ms"
        f"   p95 {p95 * 1000:6.1f} ms   non-2xx {failures}/{total}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="PostgreSQL URL of a scratch database (default: $DATABASE_URL)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="Redis URL, e.g. redis://127.0.0.1:6379/14 (default: $REDIS_URL)",
    )
    args = parser.parse_args()
    problems = []
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        problems.append(
            "DATABASE_URL (or --database-url) must be a PostgreSQL URL, e.g. "
            "postgres://postgres@127.0.0.1:5432/shop_bench_carts"
            + (f" (got {args.database_url!r})" if args.database_url else "")
        )
    if not args.redis_url.startswith(("redis://", "rediss://")):
        problems.append(
            "REDIS_URL (or --redis-url) must be a Redis URL, e.g. "
            "redis://127.0.0.1:6379/14"
            + (f" (got {args.redis_url!r})" if args.redis_url else "")
        )
    if problems:
        sys.exit(
            "carts_throughput measures gunicorn + PostgreSQL + Redis; refusing to "
            "run without them:\n  " + "\n  ".join(problems)
        )

    db_name = args.database_url.rsplit("/", 1)[1]
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name],
        capture_output=True,
        check=False,
    )
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "False",
        "COUPON_APPLY_RATE": "100000/m",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    seeded = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", f"SKUS={SKUS!r}\n" + SEED_AND_COUNT],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if seeded.returncode:
        sys.exit(f"seeding failed:\n{seeded.stderr[-3000:]}")
    line = next(x for x in seeded.stdout.splitlines() if x.startswith("QUERIES="))
    queries = json.loads(line.removeprefix("QUERIES="))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(f"{base}/healthz")
        print(
            f"gunicorn {args.workers} workers · PostgreSQL {db_name} · Redis "
            f"{args.redis_url.rsplit('/', 1)[-1]} · "
            f"{args.threads} client threads · {args.requests} requests per test\n"
        )
        carts = []
        for _ in range(args.threads * 2):
            _, _, body = call("POST", f"{base}/api/v1/carts/", {})
            carts.append(body["id"])
            call(
                "POST",
                f"{base}/api/v1/carts/{body['id']}/lines/",
                {"sku": SKUS[0], "quantity": 1},
            )
            call(
                "POST",
                f"{base}/api/v1/carts/{body['id']}/coupons/",
                {"code": "BENCH10"},
            )
        rng = random.Random(7)

        def add(i):
            cart = carts[i % len(carts)]
            return call(
                "POST",
                f"{base}/api/v1/carts/{cart}/lines/",
                {"sku": rng.choice(SKUS), "quantity": 1},
            )

        def view(i):
            return call("GET", f"{base}/api/v1/carts/{carts[i % len(carts)]}/")

        measure(
            "add to cart  POST /api/v1/carts/{id}/lines/",
            args.requests,
            args.threads,
            add,
        )
        _, _, body = call("GET", f"{base}/api/v1/carts/{carts[0]}/")
        measure(
            f"view cart    GET /api/v1/carts/{{id}}/ ({len(body['lines'])} lines)",
            args.requests,
            args.threads,
            view,
        )
        page_lines = 3
        sessions = [
            page_session(base, SKUS[i : i + page_lines]) for i in range(args.threads)
        ]

        def view_page(i):
            return call_page(sessions[i % len(sessions)], f"{base}/cart/")

        status, _ = view_page(0)
        if status != 200:
            sys.exit(f"GET /cart/ answered {status}")
        measure(
            f"view cart    GET /cart/ page ({page_lines} lines)",
            args.requests,
            args.threads,
            view_page,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)

    print(
        "\nSQL queries per request: counted with Django's test client in a "
        "separate\n`manage.py shell` process (same database and settings), "
        "not in the gunicorn run:"
    )
    for name, n in queries.items():
        print(f"  {name:<42} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
