"""Requests that need no transaction: one round trip per statement instead of three.

Before a request's first statement the PostgreSQL driver opens a transaction (``BEGIN``, a round
trip of its own) and the request ends it (``COMMIT`` or ``ROLLBACK``, another). Userinfo,
introspection and the client-credentials grant read a token or a portal and write at most one
row at a time; under PostgreSQL's READ COMMITTED every statement sees its own snapshot anyway, so
the transaction around them bought nothing but the two round trips: 0.17 of 1.0 ms CPU per
userinfo request in the service (measured in-process), and the server's work for both.

``autocommit()`` puts the request's session on a connection in the driver's autocommit mode; it
must come before the request's first statement. Each statement then commits by itself, so the
session refuses what would need a transaction: a flush of more than one row, and savepoints.
A change of several rows that must happen together does not belong in such a request.
"""

from sqlalchemy import event

from .extensions import db

_FLAG = "buergerkonto.autocommit"


class TransactionNeeded(RuntimeError):
    """Code in an autocommit request asked for what only a transaction gives."""


def autocommit() -> None:
    """Run the rest of this request's session without a transaction (see the module's docstring)."""
    session = db.session()
    if session.in_transaction():
        raise TransactionNeeded("autocommit() must come before the request's first statement")
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.info[_FLAG] = True


@event.listens_for(db.session, "before_flush")
def _one_row_at_a_time(session, flush_context, instances) -> None:
    if session.info.get(_FLAG) and len(session.new) + len(session.dirty) + len(session.deleted) > 1:
        raise TransactionNeeded("a flush of several rows needs a transaction, not autocommit()")


@event.listens_for(db.session, "after_transaction_create")
def _no_savepoints(session, transaction) -> None:
    if transaction.nested and session.info.get(_FLAG):
        raise TransactionNeeded("savepoints need a transaction, not autocommit()")


@event.listens_for(db.session, "after_transaction_end")
def _back_to_transactions(session, transaction) -> None:
    # The connection goes back to the pool (which restores its isolation level); the session's
    # next transaction gets a normal one.
    if transaction.parent is None:
        session.info.pop(_FLAG, None)
