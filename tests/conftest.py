"""Shared fixtures: service markers, a real Celery worker, and localstripe."""

import gc
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "scripts" / "localstripe_runner.py"


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.fixture(scope="session")
def django_db_keepdb():
    """Always keep: tests/dbtemplate.py decides when a database is rebuilt."""
    return True


@pytest.fixture(scope="session")
def django_db_createdb():
    return False


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, request):
    """Give this process (each xdist worker) its own copy of a migrated template.

    pytest-django has already added the worker's suffix (_gw0, ...) to the
    test database name. --create-db forces a fresh copy of the template; the
    template itself is rebuilt only when a migration or a pin changed.
    """
    from tests import dbtemplate

    db = settings.DATABASES["default"]
    fresh = bool(request.config.getvalue("create_db"))
    if _on_postgres():
        dbtemplate.prepare_postgres(db, fresh=fresh)
    else:
        dbtemplate.prepare_sqlite(db["TEST"]["NAME"], fresh=fresh)


@pytest.fixture(scope="session", autouse=True)
def _postgres_flush_deletes_only_written_tables():
    """After a transactional test, empty only the tables it wrote to.

    Django's flush truncates every table (160 here) after each transactional
    test; on PostgreSQL each TRUNCATE makes new files for every table, which
    cost the services pass several seconds per test under CI's load. The
    tables with rows are found in one query and emptied with DELETE in one
    transaction: every foreign key Django makes is DEFERRABLE INITIALLY
    DEFERRED, so the order does not matter. The same rows go as with
    TRUNCATE; sequences are not reset by either.
    """
    if not _on_postgres():
        yield
        return
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return original(
                self,
                style,
                tables,
                reset_sequences=reset_sequences,
                allow_cascade=allow_cascade,
            )
        # Table names from Django's own introspection, quoted as identifiers.
        probes = " UNION ALL ".join(
            f"SELECT %s::text WHERE EXISTS (SELECT 1 FROM {self.quote_name(table)})"  # noqa: S608
            for table in tables
        )
        with self.connection.cursor() as cursor:
            cursor.execute(probes, list(tables))
            written = [row[0] for row in cursor.fetchall()]
        return [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(t))};"
            for t in written
        ]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


def pytest_configure(config):
    # The suite allocates far more than a server does (factories, test
    # clients, thousands of collected items): with the default threshold the
    # cyclic collector ran 1,847 times in tests/checkout alone, rescanning
    # every module and item each full pass (5 % of the run's CPU).
    gc.set_threshold(50_000, 20, 20)


def pytest_collection_finish(session):
    # What is alive now (Django, the apps, every collected test) lives for the
    # whole run: out of the collector's sight, as config/wsgi.py does for
    # servers.
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    on_postgres = _on_postgres()
    have_redis = bool(settings.REDIS_URL)
    require_services = os.environ.get("REQUIRE_SERVICES") == "1"
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            if require_services:
                raise pytest.UsageError(
                    "REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL"
                )
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL)"))
        if "worker" in item.keywords and not have_redis:
            if require_services:
                raise pytest.UsageError("REQUIRE_SERVICES=1 but REDIS_URL is not set")
            item.add_marker(
                pytest.mark.skip(reason="needs Redis (REDIS_URL) and a worker")
            )
        if "browser" in item.keywords and not Path("/usr/bin/chromium").exists():
            if os.environ.get("REQUIRE_BROWSER") == "1":
                raise pytest.UsageError(
                    "REQUIRE_BROWSER=1 but /usr/bin/chromium is missing"
                )
            item.add_marker(pytest.mark.skip(reason="needs Debian's chromium"))
    _write_marked_test_ids(items)


def _write_marked_test_ids(items) -> None:
    """List the tests marked for the services, for .ci/run to count as passed.

    Written by one process while it collects (every xdist worker collects the
    same items), so CI needs no second collection of its own.
    """
    folder = os.environ.get("MARKED_TEST_IDS_DIR")
    if not folder or os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
        return
    for marker in ("postgres", "worker"):
        lines = [f"PASSED {item.nodeid}\n" for item in items if marker in item.keywords]
        Path(folder, f"ci-{marker}-ids.txt").write_text("".join(lines))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def admin_change_form_data(response) -> dict[str, str]:
    """The POST an admin add/change page would send unedited: the main form,
    each inline's management form and rows, as the page shows them."""

    def form_data(form) -> dict[str, str]:
        data = {}
        for bound in form:
            value = bound.value()
            if isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            else:
                data[bound.html_name] = "" if value is None else str(value)
        return data

    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= form_data(formset.management_form)
        for form in formset.forms:
            data |= form_data(form)
    return data


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    """Uploads and generated pictures go to a throwaway directory, never media/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and cached values must not leak between tests."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):
        # Redis: only this xdist worker's keys (KEY_PREFIX), never FLUSHDB,
        # which would also wipe the other workers' keys and Celery queues.
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _still_ratelimit_clock(monkeypatch):
    """Stop the rate limits' clock (apps.core.ratelimit) for the test.

    Its windows are fixed (aligned per key), so "N+1 attempts are refused"
    fails whenever the attempts straddle a window's end: rarely, but often
    enough across a suite to make CI red at random.
    """
    from apps.core import ratelimit

    now = int(time.time())
    monkeypatch.setattr(ratelimit, "clock", lambda: now)


@pytest.fixture(autouse=True)
def _reset_celery_join_guard():
    """Undo a flag that eager tasks in parallel test threads can leave set.

    Celery saves and restores its global "inside a task" flag around every
    eager task without a lock; two threads interleaving leave it True, and a
    later test's result.get() then refuses to block. Only eager mode (tests)
    runs tasks on web threads, so production is unaffected.
    """
    from celery import _state

    _state._set_task_join_will_block(False)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


# --- localstripe -------------------------------------------------------------


@contextmanager
def localstripe_process(data_file: Path, *args: str, port: int | None = None):
    """Run scripts/localstripe_runner.py on its own port and data file."""
    port = port or free_port()
    log = open(data_file.with_suffix(".log"), "a")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            *(sys.executable, str(RUNNER), "--port", str(port)),
            *("--data-file", str(data_file), *args),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory):
    """Start the localstripe runner once per session, with its own port and data."""
    data_file = tmp_path_factory.mktemp("localstripe") / "store.pickle"
    with localstripe_process(data_file) as base:
        yield base


@pytest.fixture
def localstripe(localstripe_server, settings):
    """Point the stripe library, dj-stripe and the CSP at the running localstripe."""
    import stripe

    previous = stripe.api_base
    settings.STRIPE_API_HOST = localstripe_server
    settings.STRIPE_JS_URL = f"{localstripe_server}/js.stripe.com/v3/"
    policy = {
        k: list(v) for k, v in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].items()
    }
    for directive in ("script-src", "connect-src", "frame-src"):
        policy[directive].append(localstripe_server)
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": policy}
    stripe.api_base = localstripe_server
    yield localstripe_server
    stripe.api_base = previous


# --- a real Celery worker ------------------------------------------------------


def _database_url_for_subprocess() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def start_celery_worker(queue: str, env: dict[str, str]) -> subprocess.Popen:
    """Start a `celery worker` consuming only `queue`; wait until it answers."""
    from config.celery import app

    hostname = f"{queue}-{time.monotonic_ns()}@{socket.gethostname()}"
    # A file, not a pipe: a worker handed from test to test would block once
    # its unread log filled a pipe's 64 KiB.
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop_celery_worker)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            hostname,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log = log  # type: ignore[attr-defined]
    # For tests that start more processes alike (tests/core/test_beat.py).
    proc.queue = queue  # type: ignore[attr-defined]
    proc.env = env  # type: ignore[attr-defined]
    proc.hostname = hostname  # type: ignore[attr-defined]
    # Only this worker counts: another worker on the same Redis database
    # answering a ping would let the test run against nothing.
    ping_deadline = time.monotonic() + 30
    while True:
        replies = app.control.ping(timeout=0.5)
        if any(name.startswith(f"{queue}-") for r in replies for name in r):
            return proc
        if proc.poll() is not None:
            raise RuntimeError("celery worker exited:\n" + _worker_output(proc))
        if time.monotonic() > ping_deadline:
            stop_celery_worker(proc)
            raise RuntimeError("celery worker did not answer a ping within 30s")


def _worker_output(proc: subprocess.Popen) -> str:
    proc.log.seek(0)
    return proc.log.read()


def stop_celery_worker(proc: subprocess.Popen) -> str:
    """Stop a worker (warm shutdown, then kill); return what it printed."""
    if proc.log.closed:  # stopped already, by the test and now by its fixture
        return proc.output
    with suppress(ProcessLookupError):  # a test may have killed it already
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.output = _worker_output(proc)
    proc.log.close()
    return proc.output


def _worker_is_idle(proc: subprocess.Popen) -> bool:
    """Alive, and holding no task: none running, reserved or waiting for an ETA.

    A solo-pool worker answers control messages only between tasks, so a
    worker still busy misses the timeout and counts as not idle.
    """
    from config.celery import app

    if proc.poll() is not None:
        return False
    inspect = app.control.inspect(destination=[proc.hostname], timeout=2.0)
    for held in (inspect.active(), inspect.reserved(), inspect.scheduled()):
        if not held or held.get(proc.hostname):
            return False
    return True


@pytest.fixture(scope="session")
def _idle_celery_worker():
    """The worker the last test left idle, to be taken by the next test that
    would start one with the same environment (key: environment but queue).

    Starting a worker costs ~4 CPU-s here (Django and every task module
    imported again); a test that leaves it alive and holding no task hands it
    on instead of stopping it. A test that kills or stops its worker, or that
    leaves a task running, reserved or scheduled, never hands it on.
    """
    holder: dict = {}
    yield holder
    if holder.get("proc") is not None:
        stop_celery_worker(holder.pop("proc"))


# What changes from test to test without changing the worker.
_WORKER_ENV_PER_TEST = {"CELERY_TASK_DEFAULT_QUEUE", "PYTEST_CURRENT_TEST"}


def _worker_env_key(env: dict[str, str]) -> frozenset:
    return frozenset((k, v) for k, v in env.items() if k not in _WORKER_ENV_PER_TEST)


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    """Extra environment for the `celery_worker` process; a module overrides it
    (e.g. WORKER_TEST_IMPORTS, read by config/settings/worker_test.py)."""
    return {}


@pytest.fixture
def celery_worker(
    transactional_db, settings, request, celery_worker_env, _idle_celery_worker
):
    """Run a real `celery worker` process against the test database and Redis.

    Tests using it must be `transaction=True` (the worker only sees committed
    rows). Tasks are published to Redis instead of running eagerly. The
    process may be one an earlier test of this test process left idle, with
    the same environment: its queue is emptied first.
    """
    from config.celery import app

    # A queue per Celery worker process (a new one, or the idle one handed on
    # with its own queue), and so per xdist worker: they share the Redis
    # database, and one's Celery must never take another's tasks.
    xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    queue = f"test-{xdist_worker}-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.worker_test",
        "DATABASE_URL": _database_url_for_subprocess(),
        "REDIS_URL": settings.REDIS_URL,
        "STRIPE_API_HOST": settings.STRIPE_API_HOST,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        **celery_worker_env,
    }
    app.conf.broker_url = settings.REDIS_URL
    proc = _idle_celery_worker.pop("proc", None)
    if proc is not None and _worker_env_key(proc.env) != _worker_env_key(env):
        stop_celery_worker(proc)
        proc = None
    if proc is not None:
        # What the last test published after the worker last looked.
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(proc.queue)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    try:
        if proc is None:
            proc = start_celery_worker(queue, env)
        app.conf.task_default_queue = proc.queue
        yield proc
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = "celery"
        if proc is not None:
            if _worker_is_idle(proc):
                _idle_celery_worker["proc"] = proc
            else:
                out = stop_celery_worker(proc)
                request.node.worker_log = out
                if request.config.getoption("verbose") > 0:
                    sys.stdout.write(out[-4000:])


# --- browser tests: Playwright driving Debian's Chromium ------------------------
# Appended by the accounts helper. Playwright never downloads a browser here:
# it launches /usr/bin/chromium. Tests marked `browser` are skipped when it is
# missing (see pytest_collection_modifyitems).

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session."""
    # Playwright's sync API runs an asyncio loop in this thread, and Django
    # refuses ORM calls from a thread with a running loop unless told not to.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Playwright's default viewport, restored before each test that uses `page`.
VIEWPORT = {"width": 1280, "height": 720}
# What a test may not do to the shared page: each would outlive the test.
_PAGE_STATE_OUTLIVING_A_TEST = (
    "add_init_script",
    "on",
    "once",
    "route",
    "expose_function",
)


def _new_page(browser, base_url: str):
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    # CI runs both suites side by side, five test processes and their
    # Chromiums on two CPUs: a step that takes one second alone has taken
    # over fifteen there. The limit only bounds how long a real failure hangs.
    context.set_default_timeout(45_000)
    return context.new_page()


def _new_shared_page(browser, base_url: str):
    page = _new_page(browser, base_url)
    for name in _PAGE_STATE_OUTLIVING_A_TEST:
        setattr(page, name, _refuse_on_shared_page(name))
    return page


@pytest.fixture(scope="session")
def _shared_page(browser, live_server):
    holder = {"page": _new_shared_page(browser, live_server.url)}
    yield holder
    holder["page"].context.close()


@pytest.fixture
def page(_shared_page, browser, live_server):
    """A browser page with no cookies whose relative URLs hit live_server.

    Every test gets the same page of one context, emptied between tests:
    Chromium starts a renderer process for each new context and page, about
    half a second of CPU each (18 browser tests took 77 CPU-s with a context
    per test, 59 with this one). Tests that register listeners or init
    scripts, which would outlive them, take `fresh_page` instead.
    """
    shared = _shared_page["page"]
    if shared.is_closed():
        shared = _shared_page["page"] = _new_shared_page(browser, live_server.url)
    context = shared.context
    context.clear_cookies()
    context.clear_permissions()
    shared.set_viewport_size(VIEWPORT)
    try:
        yield shared
    finally:
        # Empty the origin's storage, then stop the page's scripts and
        # requests before the database is emptied.
        with suppress(Exception):
            shared.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        with suppress(Exception):
            shared.goto("about:blank")


def _refuse_on_shared_page(name: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(
            f"page.{name}() would outlive this test on the shared page: "
            "use the fresh_page fixture"
        )

    return refuse


@pytest.fixture
def fresh_page(browser, live_server):
    """A page in a context of its own, for tests that add listeners or scripts."""
    page = _new_page(browser, live_server.url)
    try:
        yield page
    finally:
        page.context.close()


@pytest.fixture
def eager_retries(monkeypatch):
    """Let an eager task run Celery's whole retry chain.

    Tests propagate eager exceptions (CELERY_TASK_EAGER_PROPAGATES), so an
    eager task stops at its first Retry. A test of the retry chain itself
    turns that off and reads the final failure from the AsyncResult.
    """
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
