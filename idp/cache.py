"""Short-lived per-process caches for what changes rarely and is read on every request.

Portal registrations, signing keys, the JWKS, the discovery document and the
upstream settings change a few times a year, yet each used to cost a database
round trip on every request. They are kept here for ``CACHE_SECONDS``:

- a change made in this process (CLI, demo, tests) forgets the cache at once
  (``forget_on_change`` listens to the ORM's after-flush);
- other processes (gunicorn's workers, other instances) see it after at most
  ``CACHE_SECONDS`` - that is the documented delay for a rotated client secret,
  a deleted portal or a rotated key to reach every worker.

Each app has its own caches (tests build many apps in one process). Values are
shared between threads, so only immutable values or detached ORM instances that
callers ``merge`` into their own session may be kept.
"""

import threading
import time

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

CACHE_SECONDS = 10
_MAX_ENTRIES = 10_000  # bounded even if the data behind a cache were unexpectedly large
_EXTENSION = "buergerkonto.caches"


class TtlCache:
    """A dict whose entries expire; ``get`` computes a missing one (computing twice in a race is harmless)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get(self, key, compute, keep=lambda value: True):
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = compute()
        if keep(value):
            self.put(key, value, self.seconds)
        return value

    def peek(self, key):
        """The live value of ``key``, or None."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, key, value, seconds: float) -> None:
        """Keep ``value`` for ``seconds`` (an entry's own lifetime)."""
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + seconds, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cache(name: str) -> TtlCache:
    """The current app's cache called ``name``."""
    app = current_app._get_current_object()
    caches = app.extensions.setdefault(_EXTENSION, {})
    found = caches.get(name)
    if found is None:
        found = caches.setdefault(name, TtlCache(float(app.config.get("CACHE_SECONDS", CACHE_SECONDS))))
    return found


def detached_copy(row):
    """A detached twin of an ORM instance (column values only) that sessions can ``merge(load=False)``."""
    mapper = inspect(row).mapper
    twin = mapper.class_manager.new_instance()
    for column in mapper.column_attrs:
        setattr(twin, column.key, getattr(row, column.key))
    make_transient_to_detached(twin)
    return twin


_FORGET_ON_CHANGE: dict[type, tuple[str, ...]] = {}


def forget_on_change(model, *names: str) -> None:
    """Clear the caches ``names`` of the current app whenever a ``model`` row is written in this process."""
    _FORGET_ON_CHANGE[model] = _FORGET_ON_CHANGE.get(model, ()) + names


@event.listens_for(Session, "after_flush")
def _forget_what_changed(session, flush_context) -> None:
    changed = {type(item) for item in (*session.new, *session.dirty, *session.deleted)}
    for model in changed & _FORGET_ON_CHANGE.keys():
        forget(*_FORGET_ON_CHANGE[model])


def forget(*names: str) -> None:
    if not has_app_context():
        return
    caches = current_app.extensions.get(_EXTENSION, {})
    for name in names:
        if name in caches:
            caches[name].clear()
