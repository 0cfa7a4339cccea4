"""Celery beat: the code-defined schedule names real tasks, and beat really fires."""

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.celery import app
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_beat_schedule_every_entry_names_a_registered_task():
    app.loader.import_default_modules()  # autodiscovery, as a worker does at boot

    unknown = {
        name: entry["task"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] not in app.tasks
    }

    assert settings.CELERY_BEAT_SCHEDULE
    assert unknown == {}


# --- a real beat process driving a real worker (Redis + PostgreSQL/SQLite file) ----


def _session(key: str, *, expires_in: timedelta) -> Session:
    return Session.objects.create(
        session_key=key,
        session_data=SessionStore().encode({"cart": 1}),
        expire_date=timezone.now() + expires_in,
    )


def _start_beat(worker, tmp_path) -> subprocess.Popen:
    with open(tmp_path / "beat.log", "w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--schedule",
                str(tmp_path / "celerybeat-schedule"),
                "--pidfile",
                str(tmp_path / "celerybeat.pid"),
                "--max-interval",
                "1",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=worker.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop_beat(beat: subprocess.Popen) -> int:
    beat.send_signal(signal.SIGTERM)  # beat syncs its schedule, then exits
    try:
        return beat.wait(timeout=15)
    except subprocess.TimeoutExpired:
        beat.kill()
        beat.wait()
        raise


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_interval_entry_expired_sessions_cleared_by_worker(
    celery_worker, tmp_path
):
    expired = _session("expired" * 4, expires_in=-timedelta(days=1))
    live = _session("live" * 8, expires_in=timedelta(days=14))
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    entry = PeriodicTask.objects.create(
        name="test: clear expired sessions every second",
        task="core.clear_expired_sessions",
        interval=every_second,
        queue=celery_worker.queue,
    )

    beat = _start_beat(celery_worker, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while Session.objects.filter(pk=expired.pk).exists():
            assert beat.poll() is None, "celery beat exited early"
            assert time.monotonic() < deadline, "expired session still there after 30s"
            time.sleep(0.5)
    finally:
        returncode = _stop_beat(beat)
        log = (tmp_path / "beat.log").read_text()

    assert returncode == 0, log
    assert "Sending due task test: clear expired sessions" in log
    assert not (tmp_path / "celerybeat.pid").exists()  # removed on a clean exit
    assert list(Session.objects.values_list("pk", flat=True)) == [live.pk]
    entry.refresh_from_db()
    assert entry.total_run_count >= 1  # beat saved its bookkeeping on SIGTERM
