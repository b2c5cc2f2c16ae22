"""The mail courier: one background thread per app and process that delivers committed mail.

A request that queues mail only writes the outbox row (see ``mail``); once its
transaction has committed it hands the row's id to the courier and answers at
once. The courier delivers in its own app context, so with its own database
session and connection, and an SMTP server that stalls holds up the courier,
never a citizen's or a portal's request.

The outbox stays the source of truth. The courier claims each row before it
sends (the conditional UPDATE in ``mail.deliver_pending``), so it and
``buergerkonto mail deliver`` never send a message twice; mail it could not
deliver, or never got to (the process ended first), stays pending for
``buergerkonto mail deliver``.

The thread starts on first use, in the process that serves requests: gunicorn
forks its workers, and a thread started before the fork would not exist in
the worker. After a fork the child starts with a fresh, empty courier. The
thread ends after a minute without work and starts again with the next
message, and ``shutdown`` (tests, process exit) lets it finish what it was
given and stop, so it never outlives its app.
"""

import atexit
import os
import threading
import weakref
from collections.abc import Callable, Iterable

from flask import Flask

IDLE_SECONDS = 60.0

_couriers: "weakref.WeakSet[Courier]" = weakref.WeakSet()
_registry_lock = threading.Lock()
_EXTENSION = "buergerkonto.mail_courier"


class Courier:
    """Delivers the ids it is given with ``deliver(ids)`` inside ``app``'s context, one batch at a time."""

    def __init__(self, app: Flask, deliver: Callable[[list[int]], object] | None):
        self.app = app
        self.deliver = deliver
        self._reset()
        _couriers.add(self)

    def _reset(self) -> None:
        """Fresh state: at creation, and in a forked child (the parent's thread and locks are not ours)."""
        self._lock = threading.Condition()
        self._queue: list[int] = []
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, ids: Iterable[int]) -> bool:
        """Hand over committed outbox ids; ``False`` once shut down (they stay pending in the outbox)."""
        with self._lock:
            if self._closed:
                return False
            self._queue.extend(ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="buergerkonto-mail-courier", daemon=True)
                self._thread.start()
            self._lock.notify_all()
            return True

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._queue or self._closed, timeout=IDLE_SECONDS)
                if not self._queue:
                    # Idle for a while, or shut down with nothing left: end; ``submit`` starts a new thread.
                    self._thread = None
                    self._lock.notify_all()
                    return
                batch, self._queue = list(dict.fromkeys(self._queue)), []
                self._busy = True
            try:
                self._deliver(batch)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _deliver(self, ids: list[int]) -> None:
        from .extensions import db

        with self.app.app_context():
            try:
                self.deliver(ids)
            except Exception as exc:  # noqa: BLE001 - the thread must live on; the rows stay pending
                # The class name only: a database error's text can carry the mail body (a link).
                self.app.logger.error("mail courier: delivery failed (%s); the mail stays in the outbox "
                                      "for 'buergerkonto mail deliver'", type(exc).__name__)
            finally:
                db.session.remove()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything handed over so far has been dealt with; ``False`` on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._queue and not self._busy, timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Deliver what was handed over, then stop the thread; ``False`` if it is still busy at ``timeout``."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


def courier_for(app: Flask, deliver: Callable[[list[int]], object]) -> Courier:
    """The app's courier in this process, created on first use."""
    courier = app.extensions.get(_EXTENSION)
    if courier is None:
        with _registry_lock:
            courier = app.extensions.get(_EXTENSION)
            if courier is None:
                courier = app.extensions[_EXTENSION] = Courier(app, deliver)
    return courier


def shutdown(app: Flask, timeout: float | None = 30.0) -> bool:
    """Let the app's courier finish and stop; later mail stays in the outbox (a test app's teardown)."""
    with _registry_lock:
        courier = app.extensions.get(_EXTENSION)
        if courier is None:
            courier = app.extensions[_EXTENSION] = Courier(app, deliver=None)
    return courier.shutdown(timeout)


def drain_all(timeout: float | None = 30.0) -> bool:
    """Wait until every courier of this process has delivered what it was given."""
    return all(courier.drain(timeout) for courier in list(_couriers))


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for courier in list(_couriers):
        courier._reset()


def _at_exit() -> None:
    # A graceful stop (gunicorn's worker exit) lets in-flight mail finish; the rest stays in the outbox.
    for courier in list(_couriers):
        courier.shutdown(timeout=5.0)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
