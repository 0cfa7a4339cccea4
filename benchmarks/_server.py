"""What every benchmark needs to start a server on loopback and wait for it."""

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def gunicorn_serving(
    root: Path, env: dict[str, str], workers: int, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """Serve the project with gunicorn on a free loopback port; yield its base
    URL once /healthz answers, and stop the whole process group after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(root / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *extra_args,
        ],
        cwd=root,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(f"{base}/healthz")
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def process_ticks(pid: int) -> int | None:
    """utime+stime of one process in clock ticks, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


class CpuSampler:
    """CPU milliseconds spent by groups of processes between start() and stop().

    ``groups()`` returns {pid: group} for the processes to count now. They are
    sampled every ``interval`` seconds, each pid's delta taken from its first
    sample (zero for a process started meanwhile) to its last, so a process
    that exits during the run (a PostgreSQL backend closed after CONN_MAX_AGE)
    keeps what it spent up to its last sample instead of vanishing from a sum.
    """

    def __init__(self, groups: Callable[[], dict[int, str]], interval: float = 0.25):
        self.groups = groups
        self.interval = interval
        self.tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.group_of: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self, *, initial: bool = False) -> None:
        for pid, group in self.groups().items():
            ticks = process_ticks(pid)
            if ticks is None:
                continue
            self.group_of[pid] = group
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid] = ticks

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        self.first, self.last, self.group_of = {}, {}, {}
        self._sample(initial=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()
        spent: dict[str, float] = {}
        for pid, group in self.group_of.items():
            delta = (self.last[pid] - self.first[pid]) * self.tick_ms
            spent[group] = spent.get(group, 0.0) + delta
        return spent
