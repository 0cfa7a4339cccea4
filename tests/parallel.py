"""Run callables in real threads that start together (for `postgres` tests)."""

import threading

from django.db import connection


def run_in_parallel(jobs, *, timeout: float = 120):
    """Run each job in its own thread, released by one barrier.

    Return (results, errors); each thread closes its own database connection.
    """
    barrier = threading.Barrier(len(jobs))
    results, errors = [], []
    lock = threading.Lock()

    def worker(job):
        try:
            barrier.wait(timeout=30)
            outcome = job()
            with lock:
                results.append(outcome)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results, errors
