"""gunicorn config for benchmarks: log the SQL statements each request runs.

    BENCH_QUERY_LOG=var/queries.log gunicorn -c benchmarks/gunicorn_query_log.py \
        config.wsgi --workers 2 ...

Every statement Django sends counts (SAVEPOINT/RELEASE included; BEGIN and
COMMIT are not sent through a cursor), as in the test suite's query budgets.
Each request appends one line, ``<step> <method> <path> <statements> <cpu_ms>``,
where step is the request's X-Bench-Step header ("-" without it) and cpu_ms
the worker's CPU time for the request: what a step costs the web server,
without a profiler's overhead (cProfile inflates ORM-heavy code nine times
and simple code far less, so its shares mislead). Only the benchmark's
server loads this file; the app itself is unchanged.

With BENCH_SQL_LOG set, every statement is also appended there, each after
a ``-- <step> <method> <path>`` line, to see which queries a step sends.

With BENCH_PROFILE_DIR set, each request also runs under cProfile and its
stats are written there as ``<step>-<pid>-<n>.prof`` (merge them with pstats
to see where a step's CPU goes).
"""

import cProfile
import itertools
import os
import time

_count = 0
_cpu_started = 0.0
_profile: cProfile.Profile | None = None
_serial = itertools.count()
_statements: list[str] = []


def _counting(execute, sql, params, many, context):
    global _count
    _count += 1
    if os.environ.get("BENCH_SQL_LOG"):
        _statements.append(sql)
    return execute(sql, params, many, context)


def _install(sender, connection, **kwargs):
    if _counting not in connection.execute_wrappers:
        connection.execute_wrappers.append(_counting)


def post_fork(server, worker):
    from django.db.backends.signals import connection_created

    connection_created.connect(_install, weak=False)


def pre_request(worker, req):
    global _count, _profile, _cpu_started
    _count = 0
    _statements.clear()
    _cpu_started = time.process_time()
    if os.environ.get("BENCH_PROFILE_DIR"):
        _profile = cProfile.Profile(time.process_time)  # CPU, not waits
        _profile.enable()


def post_request(worker, req, environ, resp):
    global _profile
    cpu_ms = (time.process_time() - _cpu_started) * 1000
    step = environ.get("HTTP_X_BENCH_STEP", "-")
    if _profile is not None:
        _profile.disable()
        name = step if step != "-" else req.path.strip("/").split("/")[0] or "root"
        _profile.dump_stats(
            os.path.join(
                os.environ["BENCH_PROFILE_DIR"],
                f"{name}-{os.getpid()}-{next(_serial)}.prof",
            )
        )
        _profile = None
    sql_path = os.environ.get("BENCH_SQL_LOG")
    if sql_path:
        with open(sql_path, "a") as log:
            log.write(f"-- {step} {req.method} {req.path}\n")
            log.writelines(f"{sql}\n" for sql in _statements)
    path = os.environ.get("BENCH_QUERY_LOG")
    if not path:
        return
    with open(path, "a") as log:
        log.write(f"{step} {req.method} {req.path} {_count} {cpu_ms:.2f}\n")
