"""Requests released at the same moment, to show races on PostgreSQL."""

import threading


def race(*calls):
    """Run the zero-argument callables at once (each on its own thread, released by one barrier);
    return their results in order. An exception in any of them fails the test."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = []

    def run(i, fn):
        try:
            barrier.wait(10)
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results
