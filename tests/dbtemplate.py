"""Build the migrated test database once, then copy it for each test process.

Migrating from scratch costs minutes (dj-stripe alone has ~200 migrations),
and with pytest-xdist every worker would pay it again. Instead the first
process to need a database migrates a *template*, keyed by a hash of every
migration and pinned requirement, under a lock; each process then gets its own
copy: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL.
A template whose key is current is reused by later runs, so a changed
migration (or a dj-stripe upgrade) is the only thing that rebuilds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent


def schema_digest() -> str:
    """What the migrated schema depends on: our migrations and pinned packages."""
    digest = hashlib.sha256()
    paths = [*ROOT.glob("apps/*/migrations/*.py"), *ROOT.glob("requirements/*.txt")]
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _migrate(database_url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--run-syncdb", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


# --- SQLite -----------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy a whole database through SQLite itself (WAL pages included)."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)
    for leftover in ("-wal", "-shm"):
        Path(str(target) + leftover).unlink(missing_ok=True)
    os.replace(partial, target)


def template_dir() -> Path:
    """Where migrated SQLite templates are kept, outside any one checkout.

    Like PostgreSQL's template databases (kept by the server), a template
    outlives the clone that built it: a fresh clone with the same migrations
    and pins (CI's, a second worktree's) copies it instead of migrating again.
    """
    default = Path.home() / ".cache" / "shop-test-templates"
    return Path(os.environ.get("SHOP_TEST_TEMPLATE_DIR", default))


# Templates of other digests (other branches, older migrations) are pruned
# once unused for this long; a template in use is touched on every copy.
STALE_TEMPLATE_SECONDS = 3 * 24 * 3600


def sqlite_template() -> Path:
    """The migrated SQLite template for the current schema, built if missing."""
    digest = schema_digest()
    folder = template_dir()
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / f"sqlite-{digest}.sqlite3"
    with _file_lock(folder / "sqlite.lock"):
        if not template.exists():
            building = template.with_name(template.name + ".building")
            for suffix in ("", "-wal", "-shm"):
                Path(str(building) + suffix).unlink(missing_ok=True)
            _migrate(f"sqlite:///{building}")
            _sqlite_copy(building, template)
            for suffix in ("", "-wal", "-shm"):
                Path(str(building) + suffix).unlink(missing_ok=True)
        template.touch()
        for old in folder.glob("sqlite-*.sqlite3"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - old.stat().st_mtime > STALE_TEMPLATE_SECONDS:
                    old.unlink()
    return template


def prepare_sqlite(test_name: str, *, fresh: bool) -> None:
    """Give this process the SQLite file `test_name`, copied from the template.

    A stamp beside the file records which template it came from, so a file
    built before a migration changed is replaced, and --reuse-db stays safe.
    """
    digest = schema_digest()
    target = Path(test_name)
    stamp = Path(test_name + ".schema")
    reusable = not fresh and target.exists() and stamp.exists()
    if reusable and stamp.read_text() == digest:
        return
    template = sqlite_template()
    stamp.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(template, target)
    stamp.write_text(digest)


# --- PostgreSQL ------------------------------------------------------------------


def _pg_url(db: dict, name: str) -> str:
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def postgres_template(db: dict) -> str:
    """The migrated PostgreSQL template for the current schema, built if missing.

    Named by the schema alone: every checkout and database name with the same
    migrations and pins shares one template.
    """
    import psycopg
    from psycopg import sql

    template = f"test_shop_template_{schema_digest()}"
    with psycopg.connect(_pg_url(db, "postgres"), autocommit=True) as conn:
        # One builder per template across every process and checkout.
        key = int(hashlib.sha256(template.encode()).hexdigest()[:15], 16)
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (template,)
            ).fetchone()
            if not exists:
                building = f"{template}_building"
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {}").format(
                        sql.Identifier(building)
                    )
                )
                conn.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building))
                )
                _migrate(_pg_url(db, building))
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(template)
                    )
                )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return template


def prepare_postgres(db: dict, *, fresh: bool) -> None:
    """Point this process's test database at a migrated template.

    Mutates the settings dict: TEST.NAME gains the schema digest (a database
    built from older migrations is never reused) and TEST.TEMPLATE names the
    template, so Django's own CREATE DATABASE copies it.
    """
    import psycopg
    from psycopg import sql

    base = db["TEST"].get("NAME") or f"test_{db['NAME']}"
    db["TEST"]["NAME"] = f"{base}_{schema_digest()}"
    db["TEST"]["TEMPLATE"] = postgres_template(db)
    if fresh:
        with psycopg.connect(_pg_url(db, "postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(db["TEST"]["NAME"])
                )
            )


def main() -> None:
    """Build the template for DATABASE_URL (SQLite when unset) before pytest.

    `make test` and CI run this first, so a new machine's migrations (minutes
    on a busy one) are not under the per-test timeout of the first test.
    """
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        sys.stdout.write(f"test template: {postgres_template(db)}\n")
    else:
        sys.stdout.write(f"test template: {sqlite_template()}\n")


if __name__ == "__main__":
    main()
