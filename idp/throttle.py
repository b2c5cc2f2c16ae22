"""Brute-force protection for passwords and one-time codes (ASVS 6.3, Keycloak's design).

Failures are counted per key: the attempted account (keyed by a hash of the
normalised e-mail, so unknown addresses are throttled exactly like known
ones) and the client address. Past the free failures the wait doubles with
each further failure up to a cap. Counters live in the database, so every
app instance sees the same numbers. Checks happen before the work.
"""

from datetime import timedelta
from math import ceil

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import crypto
from .extensions import client_network, db
from .models import ThrottleCounter
from .timeutil import utcnow
from .upsert import insert_or_update_where


class Throttled(Exception):
    """Too many failures; ``retry_after`` says in how many seconds to try again."""

    def __init__(self, retry_after: int):
        super().__init__(f"throttled for {retry_after}s")
        self.retry_after = max(1, int(retry_after))


def account_key(identifier: str) -> str:
    """Throttle key for the account a user names (e-mail or id), without storing it in clear."""
    return "acct:" + crypto.keyed_hash(identifier, "throttle")[:40]


def ip_key(address: str | None, purpose: str | None = None) -> str:
    """Throttle key for the client's network; a ``purpose`` keeps its own count there (still an
    ``ip:`` key, with that quota): the Bürgerbüro's mistyped codes must not lock the town hall's
    network out of signing in."""
    return "ip:" + (f"{purpose}:" if purpose else "") + client_network(address or "")


def mail_key(address: str) -> str:
    """Ration key for the mails anyone can have sent to ``address`` (normalised), not stored in clear."""
    return "mail:" + crypto.keyed_hash(address, "throttle")[:40]


def ration(key: str) -> bool:
    """Count one use of something anyone may ask for, rationed like failures: the free ones, then
    doubling waits. ``False`` while the key is locked (nothing is counted then)."""
    try:
        check(key)
    except Throttled:
        return False
    fail(key)
    return True


def once_per(key: str, period: timedelta) -> bool:
    """``True`` at most once per ``period`` for ``key``: for a notice worth one mail, not one per event.

    The first call locks the key for ``period``; calls while it is locked are ``False`` and change
    nothing. One statement (an insert, or an update of a counter whose lock is over), race included.
    """
    now = utcnow()
    table = ThrottleCounter.__table__
    return insert_or_update_where(ThrottleCounter, or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
                                  key=key, failures=1, last_failure_at=now, locked_until=now + period)


def _free_failures(key: str) -> int:
    config = current_app.config
    return config["THROTTLE_IP_FREE_FAILURES"] if key.startswith("ip:") else config["THROTTLE_FREE_FAILURES"]


# Every sign-in and code check reads its counters: built once, read as plain values (the ORM query
# built per call cost three times as much).
_COUNTERS = (select(ThrottleCounter.__table__.c.key, ThrottleCounter.__table__.c.locked_until)
             .where(ThrottleCounter.__table__.c.key.in_(bindparam("keys", expanding=True))))


def check(*keys: str) -> set[str]:
    """Raise ``Throttled`` if any key is locked now; else return the keys that count failures.

    Pass the result to ``succeed``: most correct answers come without earlier
    failures, and then there is no counter to clear.
    """
    now = utcnow()
    counters = db.session.execute(_COUNTERS, {"keys": list(keys)}).all()
    waits = [
        (counter.locked_until - now).total_seconds()
        for counter in counters
        if counter.locked_until and counter.locked_until > now
    ]
    if waits:
        raise Throttled(ceil(max(waits)))
    return {counter.key for counter in counters}


def fail(*keys: str) -> list[str]:
    """Count one failure for every key and lock those past their free failures; return the locked keys."""
    config = current_app.config
    now = utcnow()
    stale = _stale_before(now)
    locked = []
    for key in keys:
        counter = _increment(key, now, stale)
        over = counter.failures - _free_failures(key)
        if over >= 0:
            wait = min(config["THROTTLE_BASE_SECONDS"] * (2**over), config["THROTTLE_MAX_SECONDS"])
            counter.locked_until = now + timedelta(seconds=wait)
            locked.append(key)
    db.session.flush()
    return locked


def _stale_before(now):
    """A counter whose last failure is older than this restarts from one (``fail``), as if missing."""
    return now - timedelta(seconds=current_app.config["THROTTLE_RESET_SECONDS"])


def _increment(key: str, now, stale) -> ThrottleCounter:
    # Counters untouched for a long time start again from zero.
    db.session.execute(
        update(ThrottleCounter)
        .where(ThrottleCounter.key == key, ThrottleCounter.last_failure_at < stale)
        .values(failures=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    changed = db.session.execute(
        update(ThrottleCounter)
        .where(ThrottleCounter.key == key)
        .values(failures=ThrottleCounter.failures + 1, last_failure_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        try:
            with db.session.begin_nested():
                db.session.add(ThrottleCounter(key=key, failures=1, last_failure_at=now))
        except IntegrityError:
            # Another request created it first: count on top of theirs.
            db.session.execute(
                update(ThrottleCounter)
                .where(ThrottleCounter.key == key)
                .values(failures=ThrottleCounter.failures + 1, last_failure_at=now)
                .execution_options(synchronize_session=False)
            )
    counter = db.session.get(ThrottleCounter, key, populate_existing=True)
    return counter


def succeed(key: str, counting: set[str] | None = None) -> None:
    """A correct answer clears the account's counter (the address counter stays).

    ``counting`` is what ``check`` returned: a key it saw no counter for needs no DELETE.
    """
    if counting is None or key in counting:
        ThrottleCounter.query.filter_by(key=key).delete()


def purge_stale() -> int:
    """Delete counters that count nothing any more (``buergerkonto purge``); caller commits.

    A counter whose last failure is older than ``THROTTLE_RESET_SECONDS`` starts again from one at the
    next failure, exactly as if it were missing, so once its lock (if any) is over the row can go.
    """
    now = utcnow()
    return db.session.execute(delete(ThrottleCounter).where(
        ThrottleCounter.last_failure_at < _stale_before(now),
        or_(ThrottleCounter.locked_until.is_(None), ThrottleCounter.locked_until < now))).rowcount
