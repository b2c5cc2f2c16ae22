"""INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike.

"Add this row unless it is there" used to be a SELECT, a SAVEPOINT, the INSERT
and a RELEASE (four round trips, and the savepoint still needed for a parallel
request winning the race). One statement does both jobs, race included.
"""

from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_unless_present(model, **values) -> bool:
    """Insert a ``model`` row unless one with the same unique key exists; True when inserted.

    Python-side column defaults (``created_at``) apply as with the ORM. The row
    is not added to the session: read it with a query when it is needed.
    """
    insert = _INSERT[db.session.get_bind().dialect.name]
    # Whether a row went in is read from RETURNING, not ``rowcount``: on PostgreSQL SQLAlchemy
    # adds its own RETURNING of the key to such an INSERT, and the rowcount then reads as none.
    statement = insert(model).values(**values).on_conflict_do_nothing().returning(literal_column("1"))
    return db.session.execute(statement).first() is not None
