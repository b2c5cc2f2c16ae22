"""Single statements on the hot path, run on the database driver instead of through the ORM session.

Every bearer request (userinfo, the postbox API) starts by reading its token and the citizen's
account: one SELECT of one row. Through the ORM session that read cost 0.45 ms CPU in-process
(the session's transaction, the Connection's execution context and result set-up, the pool's
isolation-level switch); on the driver it costs 0.10 ms. Under gunicorn, userinfo went from
2.0 to 1.7 ms CPU per request (bench/RESULTS.md). The code and refresh grants read their code
or refresh token the same way (``oidc.bearer``), and a portal's own opaque token (the
client-credentials grant) is one INSERT that needs no transaction either.

What stays SQLAlchemy's: the statement is built with Core and compiled by the engine's dialect
(once per engine); the connection comes from the engine's pool and goes back to it (reset and
all); values are converted by the columns' types (JSON and datetimes on SQLite); driver errors
become ``sqlalchemy.exc.DBAPIError`` (``IntegrityError`` and the rest) and a lost connection is
invalidated, as SQLAlchemy does.

What is different:
- The statement is not part of the request's session transaction: a read sees committed rows
  only (right for a token a client presents: it was committed when it was issued), and a write
  is committed at once, whatever the request does afterwards.
- It runs in the driver's autocommit mode: no BEGIN and COMMIT or ROLLBACK round trips around
  one statement (as ``idp.autocommit`` does for whole requests).
- An INSERT gets no Python-side column defaults: the statement names every column it sets.
- Engine events (``before_cursor_execute``) do not see it; ``listen`` does, for tests and metrics.
- A pool that shares one connection between users (an in-memory SQLite database) would hand out
  the session's own connection, whose transaction the pool's reset would roll back; such engines
  run the statement in the session instead (and the request's commit commits a write).
"""

import weakref
from collections.abc import Callable

from sqlalchemy import bindparam, exc
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from .extensions import db

Listener = Callable[[str, object], None]
_listeners: list[Listener] = []


def column_parameters(table, names) -> dict:
    """Values for ``insert(table).values(...)`` given when the statement runs: a bind parameter per
    column, typed as the column, so that a direct statement converts each value as the column
    would (JSON, datetimes on SQLite)."""
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


def listen(listener: Listener) -> None:
    """Call ``listener(sql, dbapi_connection)`` before each direct statement runs (statement counters)."""
    _listeners.append(listener)


def remove(listener: Listener) -> None:
    _listeners.remove(listener)


class _Compiled:
    """A statement as one engine runs it: SQL text, parameter order, converters."""

    def __init__(self, statement, engine):
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params:  # (IN lists, some LIMITs: their SQL depends on the values)
            raise ValueError("a direct statement needs SQL that does not depend on its values")
        self.sql = compiled.string
        self.compiled = compiled
        self.bind_processors = {
            name: processor for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in getattr(statement, "selected_columns", ())]
        self.result_processors = processors if any(processors) else None
        self.shared_connection = isinstance(engine.pool, (StaticPool, SingletonThreadPool))

    def parameters(self, values: dict):
        params = self.compiled.construct_params(values)
        for name, processor in self.bind_processors.items():
            params[name] = processor(params[name])
        if self.compiled.positional:
            return tuple(params[name] for name in self.compiled.positiontup)
        return params

    def convert(self, row: tuple) -> tuple:
        if self.result_processors is None:
            return row
        return tuple(value if processor is None else processor(value)
                     for processor, value in zip(self.result_processors, row, strict=True))


class DirectStatement:
    """One statement on the driver: ``first(**values)`` for a SELECT of at most one row (a tuple, or
    None), ``run(**values)`` for an INSERT, UPDATE or DELETE, committed by itself (its rowcount)."""

    def __init__(self, statement):
        self.statement = statement
        self._by_engine = weakref.WeakKeyDictionary()  # (tests make many apps, each with its engine)

    def first(self, **values) -> tuple | None:
        engine, compiled = self._compiled()
        if compiled.shared_connection:
            row = db.session.execute(self.statement, values).first()
            return None if row is None else tuple(row)
        row = _run(engine, compiled, compiled.parameters(values), fetch=True)
        return None if row is None else compiled.convert(row)

    def run(self, **values) -> int:
        engine, compiled = self._compiled()
        if compiled.shared_connection:
            return db.session.execute(self.statement, values).rowcount
        return _run(engine, compiled, compiled.parameters(values), fetch=False)

    def _compiled(self):
        engine = db.engine
        compiled = self._by_engine.get(engine)
        if compiled is None:
            compiled = self._by_engine.setdefault(engine, _Compiled(self.statement, engine))
        return engine, compiled


def _run(engine, compiled: _Compiled, parameters, fetch: bool):
    dialect = engine.dialect
    pooled = engine.raw_connection()
    connection, cursor, in_normal_mode = pooled.dbapi_connection, None, True
    try:
        dialect.set_isolation_level(connection, "AUTOCOMMIT")
        in_normal_mode = False
        for listener in _listeners:
            listener(compiled.sql, connection)
        cursor = connection.cursor()
        cursor.execute(compiled.sql, parameters)
        result = cursor.fetchone() if fetch else cursor.rowcount
        cursor.close()
        dialect.reset_isolation_level(connection)
        in_normal_mode = True
        return result
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, connection, cursor)
        if lost:
            # As SQLAlchemy's own execute does: this connection is closed, and the pool's others
            # from before now are replaced on their next checkout (a lost one usually means the
            # server restarted, and took them all).
            engine.pool._invalidate(pooled, error)
        raise exc.DBAPIError.instance(compiled.sql, parameters, error, dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=dialect) from error
    finally:
        if not in_normal_mode and pooled.is_valid:
            # Never back to the pool in autocommit mode: the next session's "transaction" would
            # commit statement by statement. Closed instead; the pool opens a new one when needed.
            pooled.invalidate()
        pooled.close()
