"""Effects outside the database that must follow the outcome of the current transaction.

Some effects of a change live outside the database: mail handed to the
background courier, attachment files in a directory. They must happen only if
the change is committed (the courier must find the outbox row; a purged
message's file may go only once its row is gone) or be undone if it is not (a
file written for a message that was rolled back). ``on_commit`` runs an action
once the outermost transaction of the current session has committed;
``on_rollback`` runs one when that transaction ends any other way: rolled
back, closed with the session, or its commit failed. Savepoints do not count:
actions follow the outermost transaction. (Django calls the first
``transaction.on_commit``; SQLAlchemy offers the session events, not this.)
"""

import logging
from collections.abc import Callable

from sqlalchemy import event

from .extensions import db

_COMMIT = "buergerkonto.on_commit"
_ROLLBACK = "buergerkonto.on_rollback"

logger = logging.getLogger(__name__)


def on_commit(action: Callable[[], None]) -> None:
    """Run ``action`` after the current transaction has committed (never if it does not)."""
    db.session.info.setdefault(_COMMIT, []).append(action)


def on_rollback(action: Callable[[], None]) -> None:
    """Run ``action`` when the current transaction ends without a commit (never if it commits)."""
    db.session.info.setdefault(_ROLLBACK, []).append(action)


@event.listens_for(db.session, "after_commit")
def _committed(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction may still roll back
    session.info.pop(_ROLLBACK, None)
    _run(session.info.pop(_COMMIT, ()))


@event.listens_for(db.session, "after_transaction_end")
def _ended(session, transaction) -> None:
    if transaction.parent is not None:
        return
    # After a commit ``_committed`` has emptied both lists; whatever is left was not committed.
    session.info.pop(_COMMIT, None)
    _run(session.info.pop(_ROLLBACK, ()))


def _run(actions) -> None:
    for action in actions:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - the transaction's outcome stands; say what failed
            logger.error("after-transaction action %s failed: %s",
                         getattr(action, "__qualname__", "?"), type(exc).__name__)
