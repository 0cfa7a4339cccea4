"""Requests per second for the product list and detail pages (and their API),
and for the basket flow (product page, add to cart, cart page) as one request
each step, with its own cookies per flow.

Starts gunicorn on a free loopback port against the PostgreSQL database named
by DATABASE_URL, migrates and seeds the demo catalogue into it, sends a bounded
number of requests from a small thread pool, prints figures, stops gunicorn.

    createdb -h 127.0.0.1 -U postgres shop_bench_inventory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench_inventory \
        .venv/bin/python benchmarks/inventory_pages.py [--requests 400] [--threads 4]

The server side (migrate, seed, gunicorn) can run another checkout with its
own interpreter, e.g. the code before a change, so both are measured by the
same client code:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench_before \
        .venv/bin/python benchmarks/inventory_pages.py \
        --root ../before --python ../before/.venv/bin/python

A step whose URL answers 404 in that checkout (a page it does not have yet)
is skipped and reported as such. Besides req/s and latency, each row shows
the server CPU milliseconds per request of the gunicorn workers and of the
PostgreSQL backends connected to the benchmark database (utime+stime deltas
from /proc, so robust to other load on the machine; a basket flow counts as
one request). The server runs with benchmarks/gunicorn_query_log.py, so the
SQL statements of every request are counted too and printed per row and
request kind (for the basket flow: product page, add, cart). REDIS_URL,
when set in the environment, is passed on (the cache then lives in Redis as
in production; give each checkout its own Redis database).

It writes to that database, so give it one of its own: it refuses to start
unless DATABASE_URL is set in the environment (never read from .env) and names
a PostgreSQL database, refuses the CI database, and prints which database it
uses before touching it.

Not a test: numbers depend on the machine. Run it before and after a change.
"""

import argparse
import http.cookiejar
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _server import (
    CpuSampler,
    free_port,
    wait_for,
)  # benchmarks/ is on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}
# Databases other tools own; seeding demo products into them would corrupt runs.
FORBIDDEN_DATABASES = {"shop_ci", "postgres", "template0", "template1"}


def benchmark_database(database_url: str | None) -> tuple[str | None, str]:
    """Return (database name, description) or (None, why it is refused)."""
    if not database_url:
        return None, (
            "Set DATABASE_URL to a PostgreSQL database of the benchmark's own, e.g.\n"
            "  createdb -h 127.0.0.1 -U postgres shop_bench_inventory\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench_inventory "
            "python benchmarks/inventory_pages.py"
        )
    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme not in POSTGRES_SCHEMES:
        return None, (
            f"DATABASE_URL must name a PostgreSQL database (got scheme "
            f"{parts.scheme or 'none'!r}): the figures are for PostgreSQL."
        )
    name = parts.path.lstrip("/")
    if not name:
        return None, "DATABASE_URL names no database."
    if name in FORBIDDEN_DATABASES:
        return None, (
            f"Refusing to seed demo data into {name!r}; use a database of its own."
        )
    host = parts.hostname or "localhost"
    return name, f"{name} on {host}:{parts.port or 5432}"


def server_pids(gunicorn_pid: int, database: str) -> dict[int, str]:
    """The gunicorn workers (children of the master) and the PostgreSQL
    backends whose process title names the benchmark database."""
    pids: dict[int, str] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == gunicorn_pid:
            pids[int(entry)] = "web"
        elif cmdline.startswith("postgres: ") and f" {database} " in cmdline:
            pids[int(entry)] = "pg"
    return pids


class CpuMeter:
    """Server CPU spent between start() and stop(), per group, in ms, and the
    statements per request logged meanwhile (benchmarks/gunicorn_query_log.py)."""

    def __init__(self, gunicorn_pid: int, database: str, query_log: Path) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.database = database
        self.query_log = query_log
        self.sampler = CpuSampler(lambda: server_pids(gunicorn_pid, database))
        self.log_offset = 0

    def queries(self) -> dict[str, list[int]]:
        """Statements per request since start(), by method and path shape."""
        counts: dict[str, list[int]] = {}
        with self.query_log.open() as log:
            log.seek(self.log_offset)
            for line in log:
                _, method, path, count = line.split()[:4]
                if not path.startswith("/cart"):
                    parts = path.split("/")
                    if len(parts) > 3 and parts[-2] and parts[-3] == "products":
                        path = "/".join([*parts[:-2], "<slug>", ""])
                counts.setdefault(f"{method} {path}", []).append(int(count))
        return counts

    def start(self) -> None:
        self.query_log.touch()
        self.log_offset = self.query_log.stat().st_size
        self.sampler.start()

    def stop(self) -> dict[str, float]:
        # gunicorn logs a request's statements after sending its response.
        time.sleep(0.3)
        spent = self.sampler.stop()
        return {"web": spent.get("web", 0.0), "pg": spent.get("pg", 0.0)}


def fetch(url: str) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.perf_counter() - start


def basket_flow(base: str, slug: str, sku: str) -> tuple[int, float]:
    """Product page → add to cart (a real form POST with CSRF) → cart page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    start = time.perf_counter()
    try:
        with opener.open(f"{base}/products/{slug}/", timeout=30) as r:
            html = r.read().decode()
        token = html.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        data = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "sku": sku, "quantity": 1}
        ).encode()
        request = urllib.request.Request(
            f"{base}/cart/add/",
            data=data,
            headers={"Referer": f"{base}/products/{slug}/"},
        )
        with opener.open(request, timeout=30) as r:  # follows to /cart/
            r.read()
            status = r.status
    except (urllib.error.HTTPError, IndexError) as exc:
        status = getattr(exc, "code", 599)
    return status, time.perf_counter() - start


def run_flows(
    name: str, flows: list, total: int, threads: int, meter: CpuMeter
) -> dict:
    flows[0]()  # warm up
    meter.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(lambda i: flows[i % len(flows)](), range(total)))
    elapsed = time.perf_counter() - start
    cpu = meter.stop()
    queries = meter.queries()
    latencies = sorted(lat for _, lat in results)
    return {
        "name": name,
        "requests": total,
        "errors": sum(1 for status, _ in results if status != 200),
        "rps": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "web_ms": cpu["web"] / total,
        "pg_ms": cpu["pg"] / total,
        "queries": queries,
    }


def run(name: str, urls: list[str], total: int, threads: int, meter: CpuMeter) -> dict:
    for url in urls[:3]:
        if fetch(url)[0] == 404:
            return {"name": name, "skipped": f"{url} answers 404 in this checkout"}
    targets = [urls[i % len(urls)] for i in range(total)]
    meter.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(fetch, targets))
    elapsed = time.perf_counter() - start
    cpu = meter.stop()
    queries = meter.queries()
    latencies = sorted(lat for _, lat in results)
    errors = sum(1 for status, _ in results if status != 200)
    return {
        "name": name,
        "requests": total,
        "errors": errors,
        "rps": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "web_ms": cpu["web"] / total,
        "pg_ms": cpu["pg"] / total,
        "queries": queries,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="checkout whose server is measured (default: this one)",
    )
    parser.add_argument(
        "--python",
        help="interpreter for that checkout's server (default: this one for "
        "this checkout, ROOT/.venv/bin/python for another)",
    )
    args = parser.parse_args()
    root = args.root.resolve()
    python = args.python or (
        sys.executable if root == ROOT else str(root / ".venv" / "bin" / "python")
    )

    database_url = os.environ.get("DATABASE_URL")
    name, description = benchmark_database(database_url)
    if name is None:
        print(f"inventory_pages: {description}", file=sys.stderr)
        return 2
    print(f"database: PostgreSQL {description} (migrated, demo catalogue seeded)")
    query_log = Path(tempfile.mkdtemp(prefix="inventory-pages-")) / "queries.log"
    env = {
        **os.environ,
        "BENCH_QUERY_LOG": str(query_log),
        "DJANGO_READ_DOT_ENV": "0",  # only the DATABASE_URL given here counts
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
    }
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"server: {root} at {commit or '?'} · {python}")
    for command in (["migrate", "--noinput"], ["seed_catalogue"]):
        subprocess.run(
            [python, "manage.py", *command],
            cwd=root,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--config",
            str(ROOT / "benchmarks" / "gunicorn_query_log.py"),
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
        start_new_session=True,
    )
    meter = CpuMeter(gunicorn.pid, name, query_log)
    try:
        wait_for(f"{base}/healthz", timeout=120)  # slow boots on a busy machine
        with urllib.request.urlopen(f"{base}/api/v1/products/?page_size=100") as r:
            products = json.load(r)["results"]
        slugs = [p["slug"] for p in products]
        buyable = [
            (p["slug"], v["sku"])
            for p in products
            for v in p["variants"][:1]
            if v["purchasable"]
        ]
        print(
            f"gunicorn {args.workers} workers · {args.threads} client threads · "
            f"{args.requests} requests per row · {len(slugs)} products"
        )
        rows = [
            run(
                "page  /products/",
                [f"{base}/products/"],
                args.requests,
                args.threads,
                meter,
            ),
            run(
                "page  /products/?q=…&category=…",
                [f"{base}/products/?q=tee", f"{base}/products/?category=kitchen"],
                args.requests,
                args.threads,
                meter,
            ),
            run(
                "page  /products/<slug>/",
                [f"{base}/products/{slug}/" for slug in slugs],
                args.requests,
                args.threads,
                meter,
            ),
            run_flows(
                "flow  product → add → cart",
                [
                    (lambda s=slug, k=sku: basket_flow(base, s, k))
                    for slug, sku in buyable
                ],
                max(20, args.requests // 8),
                args.threads,
                meter,
            ),
            run(
                "api   /api/v1/products/",
                [f"{base}/api/v1/products/"],
                args.requests,
                args.threads,
                meter,
            ),
            run(
                "api   /api/v1/products/<slug>/",
                [f"{base}/api/v1/products/{slug}/" for slug in slugs],
                args.requests,
                args.threads,
                meter,
            ),
        ]
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=15)

    print(
        f"{'endpoint':34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}"
        f" {'web CPU ms/req':>15} {'PG CPU ms/req':>14}"
    )
    for row in rows:
        if "skipped" in row:
            print(f"{row['name']:34} skipped: {row['skipped']}")
            continue
        print(
            f"{row['name']:34} {row['rps']:8.1f} {row['p50_ms']:8.1f} "
            f"{row['p95_ms']:8.1f} {row['errors']:7d} {row['web_ms']:15.2f}"
            f" {row['pg_ms']:14.2f}"
        )
    print(f"{'SQL statements per request':60} {'min':>5} {'p50':>5} {'max':>5}")
    for row in rows:
        for kind, counts in row.get("queries", {}).items():
            print(
                f"{row['name'][:24]:24} {kind[:35]:35} {min(counts):5d}"
                f" {statistics.median(counts):5.0f} {max(counts):5d}"
            )
    return 1 if any(row.get("errors") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
