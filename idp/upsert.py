"""INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike.

"Add this row unless it is there" used to be a SELECT, a SAVEPOINT, the INSERT
and a RELEASE (four round trips, and the savepoint still needed for a parallel
request winning the race). One statement does both jobs, race included.
"""

from functools import lru_cache

from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql, sqlite

from .direct_sql import DirectStatement, column_parameters
from .extensions import db

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_unless_present(model, **values) -> bool:
    """Insert a ``model`` row unless one with the same unique key exists; True when inserted.

    Python-side column defaults (``created_at``) apply as with the ORM. The row
    is not added to the session: read it with a query when it is needed.
    """
    statement = _statement(model.__table__, db.session.get_bind().dialect.name)
    return db.session.execute(statement, values).first() is not None


def insert_or_update_where(model, condition, **values) -> bool:
    """Insert a ``model`` row, or set an existing one (same unique key) to ``values`` where
    ``condition`` holds of it; True when a row was written. One statement, race included."""
    table = model.__table__
    keys = [column.name for column in table.primary_key.columns]
    statement = (_INSERT[db.session.get_bind().dialect.name](table).values(**values)
                 .on_conflict_do_update(index_elements=keys,
                                        set_={name: value for name, value in values.items() if name not in keys},
                                        where=condition)
                 .returning(literal_column("1")))
    return db.session.execute(statement).first() is not None


def insert_unless_present_now(model, **values) -> bool:
    """As ``insert_unless_present``, but on the driver and committed at once (``idp.direct_sql``),
    whatever the request does afterwards: for a row that is a fact by itself (an accepted
    assertion's ``jti``). Every column the row sets is given; no Python-side defaults apply."""
    table = model.__table__
    statement = _direct(table, db.engine.dialect.name, tuple(sorted(values)))
    return statement.first(**values) is not None


@lru_cache(maxsize=None)
def _direct(table, dialect: str, names: tuple[str, ...]) -> DirectStatement:
    return DirectStatement(_INSERT[dialect](table).values(column_parameters(table, names))
                           .on_conflict_do_nothing().returning(literal_column("1")))


@lru_cache(maxsize=None)
def _statement(table, dialect: str):
    # Built once per table, on the table rather than the entity, the values passed as parameters: built
    # per call through the ORM's bulk-insert path it cost 2-3 ms of CPU a sign-in (two calls), most of it
    # the statement's construction, its cache key and the ORM's preparation, not the database.
    # Whether a row went in is read from RETURNING, not ``rowcount``, which some drivers do not report
    # for INSERT ... ON CONFLICT DO NOTHING.
    return _INSERT[dialect](table).on_conflict_do_nothing().returning(literal_column("1"))
