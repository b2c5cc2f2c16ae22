"""Flask extensions shared by every part; bound to an app in the factory."""

import ipaddress
import sqlite3

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import BigInteger, Engine, Integer, MetaData, event
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that Alembic migrations are stable on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The row id of a table that grows with traffic: tokens, codes, sessions, events, messages. Client
# credentials alone, at the benchmark's 1,000 grants a second, would use up PostgreSQL's INTEGER
# (2,147,483,647) within a month. On SQLite only a column of type INTEGER is the 64-bit rowid.
GrowingId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay readable after a commit without a reload: a request commits, then renders or redirects
# with what it just wrote (each reload was one more SELECT; sign-ins made five of them).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()


def client_network(address: str | None = None) -> str:
    """Who a per-client limit counts: the client's address, for IPv6 its /64. One connection gets
    a whole /64 and picks from it at will; counted per address, it would have 2^64 fresh counters."""
    address = address if address is not None else get_remote_address()
    if address and ":" in address:
        try:
            return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
        except ValueError:
            return address
    return address or "unknown"


limiter = Limiter(key_func=client_network, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, connection_record) -> None:
    """SQLite checks foreign keys only when asked, per connection; PostgreSQL always does.

    Without this the demo's database (and the suite's SQLite half) accepted rows pointing at
    nothing and left children behind on delete, where PostgreSQL would refuse or cascade.
    Migrations turn it off for their own connection (``migrations/env.py``): SQLite's batch
    mode rebuilds a table by dropping it, which would cascade.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def session_in_transaction() -> bool:
    """Whether this request's ORM session has begun a transaction, without creating the session
    just to ask (``db.session()`` builds one: 2.6 % of a userinfo request, which mostly has none)."""
    return db.session.registry.has() and db.session().in_transaction()
