"""Run the whole shop for development (`make run`).

Reads the processes from Procfile.dev and starts, in order:

1. localstripe (unless STRIPE_API_HOST points at real Stripe), and waits for it;
2. `manage.py stripe_dev_setup` (localstripe forgets webhooks on restart), then
   `manage.py push_plans` (the demo plans, to Stripe);
3. the web server (gunicorn with threads and --reload; runserver with
   --runserver or RUNSERVER=1, or when gunicorn is not installed), and a
   Celery worker and beat when REDIS_URL is set.

Prints the URLs and the staff login. Ctrl-C (SIGINT) or SIGTERM stops every
process it started; so does any of them exiting on its own.

    .venv/bin/python scripts/run_dev.py --port 8000 [--runserver]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile.dev"


def read_procfile(path: Path) -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = command.strip()
    return processes


def wait_for_port(host: str, port: int, proc: subprocess.Popen, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with code {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


def web_command(processes: dict[str, str], *, runserver: bool) -> str:
    """The web server's command: gunicorn unless runserver is asked for.

    runserver accepts 10 queued connections, so a burst of clients gets
    "connection reset"; gunicorn's queue is deep and its threads serve
    requests in parallel. Without gunicorn installed, runserver it is.
    """
    if not runserver and importlib.util.find_spec("gunicorn") is None:
        print("[run_dev] gunicorn is not installed: using runserver", flush=True)
        runserver = True
    return processes["web-runserver" if runserver else "web"]


class Supervisor:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self, name: str, command: str) -> subprocess.Popen:
        print(f"[run_dev] starting {name}: {command}", flush=True)
        # A session of its own, so the whole tree (runserver's reloader child,
        # celery's pool) can be stopped with one killpg.
        proc = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def stop_all(self, timeout: float = 10.0) -> None:
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"[run_dev] {name} did not stop, killing it", flush=True)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            # Children left behind in the group (if the leader died first).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def watch(self) -> int:
        while True:
            for name, proc in self.procs.items():
                code = proc.poll()
                if code is not None:
                    print(f"[run_dev] {name} exited with {code}", flush=True)
                    return code or 1
            time.sleep(0.5)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run the shop for development.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument(
        "--localstripe-port",
        type=int,
        default=int(os.environ.get("LOCALSTRIPE_PORT", 8420)),
    )
    parser.add_argument(
        "--runserver",
        action="store_true",
        default=os.environ.get("RUNSERVER", "") not in ("", "0"),
        help="serve with Django's runserver instead of gunicorn (RUNSERVER=1)",
    )
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PORT"] = str(args.port)
    env["LOCALSTRIPE_PORT"] = str(args.localstripe_port)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    env.setdefault("SITE_URL", f"http://127.0.0.1:{args.port}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    stripe_host = env.setdefault(
        "STRIPE_API_HOST", f"http://127.0.0.1:{args.localstripe_port}"
    )
    use_localstripe = urlsplit(stripe_host).hostname != "api.stripe.com"
    (ROOT / "var").mkdir(exist_ok=True)

    processes = read_procfile(PROCFILE)
    supervisor = Supervisor(env)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 0
    try:
        if use_localstripe:
            proc = supervisor.start("localstripe", processes["localstripe"])
            try:
                wait_for_port("127.0.0.1", args.localstripe_port, proc)
            except RuntimeError as exc:
                print(f"[run_dev] localstripe did not start: {exc}", flush=True)
                return 1
        setup = subprocess.run(
            [sys.executable, "manage.py", "stripe_dev_setup"],
            cwd=ROOT,
            env=env,
            check=False,
        )
        if setup.returncode:
            print("[run_dev] stripe_dev_setup failed", flush=True)
            return setup.returncode
        # The demo plans, seeded before localstripe was up, go to Stripe now.
        subprocess.run(
            [sys.executable, "manage.py", "push_plans"], cwd=ROOT, env=env, check=False
        )
        supervisor.start("web", web_command(processes, runserver=args.runserver))
        if env.get("REDIS_URL"):
            supervisor.start("worker", processes["worker"])
            supervisor.start("beat", processes["beat"])
        else:
            print(
                "[run_dev] REDIS_URL not set: no worker/beat, tasks run eagerly",
                flush=True,
            )
        site = env["SITE_URL"].rstrip("/")
        email = env.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
        password = env.get("DJANGO_SUPERUSER_PASSWORD", "admin-demo-password")
        print(
            "\n"
            f"  Shop          {site}/\n"
            f"  Admin         {site}/admin/   ({email} / {password},"
            " unless you changed it)\n"
            f"  API docs      {site}/api/docs/\n"
            f"  Stripe API    {stripe_host}"
            f"{'  (localstripe)' if use_localstripe else ''}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        code = supervisor.watch()
    except KeyboardInterrupt:
        print("\n[run_dev] stopping…", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all()
    return code


if __name__ == "__main__":
    sys.exit(main())
