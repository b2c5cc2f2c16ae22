"""The SQL a piece of code sends, whichever way it goes: through SQLAlchemy or as a direct read.

Counting statements with the engine's ``before_cursor_execute`` alone misses the reads that
``idp.direct_sql`` runs on the driver (a bearer token's read), so the tests that count
statements or look for a table's name listen to both.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event


@dataclass(frozen=True)
class Statement:
    sql: str
    autocommit: bool  # whether its connection was in the driver's autocommit mode (no transaction)

    @property
    def verb(self) -> str:
        return self.sql.split()[0].upper()


def autocommit_of(dbapi_connection) -> bool:
    if hasattr(dbapi_connection, "autocommit"):  # psycopg
        return bool(dbapi_connection.autocommit)
    return dbapi_connection.isolation_level is None  # sqlite3


@contextmanager
def recorded_statements(app, this_thread_only: bool = False):
    """Yield a list that fills with a ``Statement`` for each SQL statement sent meanwhile."""
    from buergerkonto.idp import direct_sql
    from buergerkonto.idp.extensions import db

    seen: list[Statement] = []
    thread = threading.get_ident()

    def note(sql, dbapi_connection):
        if not this_thread_only or threading.get_ident() == thread:
            seen.append(Statement(sql, autocommit_of(dbapi_connection)))

    def note_engine(conn, cursor, statement, parameters, context, executemany):
        note(statement, conn.connection.dbapi_connection)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note_engine)
    direct_sql.listen(note)
    try:
        yield seen
    finally:
        direct_sql.remove(note)
        event.remove(engine, "before_cursor_execute", note_engine)
