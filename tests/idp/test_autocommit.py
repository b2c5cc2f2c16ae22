"""Requests without a transaction (``idp.autocommit``), and the one-statement upsert they rely on."""

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture
def ctx(app):
    from buergerkonto.idp.extensions import db

    with app.app_context():
        yield db
        db.session.remove()


def _events_seen_elsewhere(database_url, tag) -> int:
    """Count rows from a connection of its own: what another request would see."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM event WHERE tag = :t"), {"t": tag}).scalar()
    finally:
        engine.dispose()


def _record(tag):
    """One row through the ORM's flush, which is what the autocommit guard watches.

    (``events.record`` itself runs its INSERT at once and needs no flush.)
    """
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Event

    db.session.add(Event(tag=tag))


def test_each_statement_commits_by_itself_and_the_next_transaction_is_normal_again(ctx, database_url):
    from buergerkonto.idp.autocommit import autocommit

    autocommit()
    _record("test:autocommit:on")
    ctx.session.flush()
    assert _events_seen_elsewhere(database_url, "test:autocommit:on") == 1  # no COMMIT was needed
    ctx.session.commit()

    _record("test:autocommit:off")  # a new transaction after the commit: a normal one
    ctx.session.flush()
    assert _events_seen_elsewhere(database_url, "test:autocommit:off") == 0
    ctx.session.rollback()
    assert _events_seen_elsewhere(database_url, "test:autocommit:off") == 0


def test_what_needs_a_transaction_is_refused(ctx, database_url):
    from buergerkonto.idp.autocommit import TransactionNeeded, autocommit

    autocommit()
    _record("test:autocommit:one")
    _record("test:autocommit:two")
    with pytest.raises(TransactionNeeded, match="several rows"):
        ctx.session.flush()
    ctx.session.rollback()
    assert _events_seen_elsewhere(database_url, "test:autocommit:one") == 0  # neither row went in

    autocommit()
    with pytest.raises(TransactionNeeded, match="savepoints"):
        ctx.session.begin_nested()
    ctx.session.rollback()

    ctx.session.execute(text("SELECT 1"))
    with pytest.raises(TransactionNeeded, match="before the request's first statement"):
        autocommit()


def test_insert_unless_present_tells_whether_the_row_went_in(ctx):
    # On PostgreSQL the rowcount of such an INSERT read as 0 (SQLAlchemy adds RETURNING of the key),
    # so every caller took the row as already there.
    from buergerkonto.idp.oidc.models import ClientAssertionJti
    from buergerkonto.idp.upsert import insert_unless_present

    values = dict(client_id="portal", jti="jti-1", expires_at=1)
    assert insert_unless_present(ClientAssertionJti, **values) is True
    assert insert_unless_present(ClientAssertionJti, **values) is False
    assert insert_unless_present(ClientAssertionJti, **dict(values, jti="jti-2")) is True
    assert ClientAssertionJti.query.count() == 2
