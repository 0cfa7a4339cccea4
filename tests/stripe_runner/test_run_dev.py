"""scripts/run_dev.py (`make run`): starts everything, Ctrl-C stops everything."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.subscriptions.models import PlanPrice
from tests.accounts.factories import PASSWORD, UserFactory
from tests.conftest import ROOT, _database_url_for_subprocess, free_port, wait_for_port
from tests.subscriptions.test_api_subscriptions import sdk_confirm

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]


def descendants(pid: int) -> set[int]:
    table = subprocess.run(
        ["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True
    ).stdout
    children: dict[int, list[int]] = {}
    for line in table.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    state = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True
    ).stdout.strip()
    return bool(state) and not state.startswith("Z")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def admin_login(site: str, email: str, password: str) -> requests.Response:
    session = requests.Session()
    session.get(f"{site}/admin/login/", timeout=30)
    return session.post(
        f"{site}/admin/login/?next=/admin/",
        data={
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{site}/admin/login/"},
        timeout=30,
    )


BURST = 30


def create_carts_at_once(site: str, count: int) -> list[int | str]:
    """POST /api/v1/carts/ from `count` clients released together.

    Each answer is its status code, or the connection error's name (a reset
    or refused connection is what runserver's 10-deep listen queue gave).
    """

    def create(_):
        try:
            response = requests.post(f"{site}/api/v1/carts/", json={}, timeout=60)
        except requests.ConnectionError as exc:
            return type(exc).__name__ + ": " + str(exc)[:80]
        return response.status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(create, range(count)))


def subscribe_as_new_user(site: str, stripe_base: str) -> dict:
    """A new user, as the mobile app: sign in, subscribe to Starter monthly,
    pay with 4242 at the run's localstripe, then wait for the webhook."""
    # Hashed as the site's settings hash (the tests' own hasher is MD5).
    hasher = PBKDF2PasswordHasher()
    user = UserFactory(verified_email=True)
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    login = requests.post(
        f"{site}/_allauth/app/v1/auth/login",
        json={"email": user.email, "password": PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['meta']['access_token']}"}
    price = PlanPrice.objects.get(plan__slug="starter", interval="month", active=True)
    started = requests.post(
        f"{site}/api/v1/subscriptions/",
        json={"price": price.pk},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        timeout=60,
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert sdk_confirm(stripe_base, body).json()["status"] == "succeeded"
    url = f"{site}/api/v1/subscriptions/{body['subscription']['id']}/"
    deadline = time.monotonic() + 30
    while True:  # localstripe's webhook reaches the site, which syncs
        sub = requests.get(url, headers=auth, timeout=30).json()
        if sub["status"] == "active" or time.monotonic() > deadline:
            return sub
        time.sleep(0.3)


def healthy(url: str, *, within: float) -> bool:
    """Whether the URL answers 200 within the time: gunicorn listens at once,
    but its workers load Django first, which on a busy machine (CI runs two
    suites side by side) can take longer than one request's timeout."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=10).status_code == 200:
                return True
        time.sleep(0.5)
    return False


def test_run_dev_serves_site_with_webhooks_and_sigint_stops_everything(monkeypatch):
    for name in ("DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    port, localstripe_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _database_url_for_subprocess(),
        "PORT": str(port),
        "LOCALSTRIPE_PORT": str(localstripe_port),
    }
    for name in ("REDIS_URL", "STRIPE_API_HOST", "SITE_URL"):
        env.pop(name, None)
    # `make run` seeds (with the same settings, so the same password hasher)
    # before it starts run_dev.py; the staff login comes from there. The demo
    # catalogue is tested on its own (tests/core/test_commands.py): seeding
    # its pictures here again would only cost the suite half a minute. The
    # demo plans (seed_demo's seed_plans) are seeded, as `make run` does.
    for command in (["seed_demo", "--staff-only"], ["seed_plans"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    proc = subprocess.Popen(
        [sys.executable, "scripts/run_dev.py", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    data_file = ROOT / "var" / f"localstripe-{localstripe_port}.pickle"
    try:
        wait_for_port(port, timeout=60)
        assert healthy(f"http://127.0.0.1:{port}/healthz", within=120)
        site = f"http://127.0.0.1:{port}"
        ready = requests.get(f"{site}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        docs = requests.get(f"{site}/api/docs/", timeout=30)
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()
        assert listening(localstripe_port)
        started = descendants(proc.pid)
        assert len(started) >= 3  # localstripe, the web server and its worker(s)
        # Static files are served by the dev web server too (WhiteNoise).
        css = requests.get(f"{site}/static/css/site.css", timeout=30)
        assert css.status_code == 200
        assert "text/css" in css.headers["Content-Type"]

        # make_run_takes_a_burst_without_dropping_connections
        answers = create_carts_at_once(site, BURST)
        assert answers == [201] * BURST, answers

        wrong = admin_login(site, "admin@example.com", "not-the-password")
        assert "Please enter the correct email" in wrong.text
        # The login the banner prints (read back after the stop, below).
        signed_in = admin_login(site, "admin@example.com", "admin-demo-password")
        assert signed_in.url == f"{site}/admin/", signed_in.text[-3000:]
        assert "Dashboard | Shop admin" in signed_in.text

        # /pricing/ shows the demo plans (pushed to localstripe at start),
        # and a new user subscribes offline with the test card.
        pricing = requests.get(f"{site}/pricing/", timeout=30)
        assert pricing.status_code == 200
        assert "Starter" in pricing.text
        assert "Pro" in pricing.text
        assert "Enterprise" not in pricing.text  # private: by direct link only
        subscription = subscribe_as_new_user(
            site, f"http://127.0.0.1:{localstripe_port}"
        )
        assert (subscription["status"], subscription["plan"]) == ("active", "starter")

        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            # A failed assertion above: let run_dev stop its children as
            # Ctrl-C would; they run in sessions of their own, so killing
            # run_dev's group alone would leave them serving.
            children = descendants(proc.pid)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in children | {proc.pid}:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                proc.wait()
            # The servers' own log, in the failure report beside the assertion.
            sys.stdout.write((proc.stdout.read() if proc.stdout else "")[-8000:])
        data_file.unlink(missing_ok=True)

    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert "(admin@example.com / admin-demo-password" in output
    assert "Registered the webhook with localstripe" in output
    assert [pid for pid in started if alive(pid)] == []
    assert not listening(port)
    assert not listening(localstripe_port)


def test_make_run_serves_with_gunicorn_and_keeps_runserver_behind_a_flag():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import run_dev
    finally:
        sys.path.pop(0)
    processes = run_dev.read_procfile(run_dev.PROCFILE)
    assert run_dev.web_command(processes, runserver=False).startswith("gunicorn ")
    assert "--threads" in processes["web"]
    assert "--reload" in processes["web"]
    assert "runserver" in run_dev.web_command(processes, runserver=True)
