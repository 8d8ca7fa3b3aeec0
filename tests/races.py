"""One harness for the concurrency tests: calls raced on their own threads and connections."""

import threading

import pytest
from django.conf import settings
from django.db import connection

needs_postgres = pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL")


def race(*calls, timeout: float = 60) -> list:
    """Run each call on its own thread (so its own database connection), all released at once
    by a barrier; returns, in the calls' order, what each returned or the exception it raised."""
    barrier, outcomes = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=timeout)
            outcomes[i] = call()
        except Exception as exc:  # handed back to the test, which decides what is allowed
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a raced call is still waiting"
    return outcomes
