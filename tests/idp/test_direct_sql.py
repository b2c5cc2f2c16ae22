"""Reads on the driver (``idp.direct_sql``): SQLAlchemy's values, pool and errors, no transaction."""

import pytest
from sqlalchemy import bindparam, exc, select, text

from buergerkonto.idp.direct_sql import DirectStatement
from buergerkonto.idp.extensions import db
from buergerkonto.idp.models import Account
from support.statements import autocommit_of, recorded_statements

_A = Account.__table__
BY_EMAIL = DirectStatement(select(_A.c.id, _A.c.email, _A.c.address, _A.c.email_verified_at, _A.c.updated_at)
                      .where(_A.c.email == bindparam("email")))


def test_a_row_reads_as_the_session_reads_it_json_and_datetimes_included(app, make_account):
    account = make_account(address={"locality": "Leer", "postal_code": "26789"})
    with app.app_context():
        direct = BY_EMAIL.first(email=account["email"])
        through_session = tuple(db.session.execute(BY_EMAIL.statement, {"email": account["email"]}).one())
        assert direct == through_session
        assert direct[2] == {"locality": "Leer", "postal_code": "26789"} and direct[3] is not None
        assert BY_EMAIL.first(email="niemand@example.org") is None
        db.session.remove()


def test_it_runs_without_a_transaction_and_leaves_the_pool_in_its_normal_mode(app, make_account):
    account = make_account()
    with recorded_statements(app) as statements:
        with app.app_context():
            for _ in range(3):
                assert BY_EMAIL.first(email=account["email"])[1] == account["email"]
            assert _no_pooled_connection_in_autocommit()
    assert len(statements) == 3 and all(statement.autocommit for statement in statements)


def test_it_does_not_see_or_disturb_the_session_s_open_transaction(app, make_account):
    from buergerkonto.idp import accounts

    with app.app_context():
        accounts.create_account("neu@example.org", "Lange-Passphrase-2026", "Neu")
        db.session.flush()
        assert BY_EMAIL.first(email="neu@example.org") is None  # committed rows only
        db.session.commit()  # the read did not end the session's transaction
        assert BY_EMAIL.first(email="neu@example.org")[1] == "neu@example.org"
        db.session.remove()


def test_a_database_error_is_sqlalchemy_s_and_the_next_read_works(app, make_account):
    account = make_account()
    broken = DirectStatement(select(text("no_such_column")).select_from(_A).where(_A.c.email == bindparam("email")))
    with app.app_context():
        with pytest.raises(exc.DBAPIError) as raised:
            broken.first(email=account["email"])
        assert not raised.value.connection_invalidated
        assert BY_EMAIL.first(email=account["email"])[1] == account["email"]


def test_a_read_that_fails_midway_returns_no_connection_in_autocommit_mode(app, make_account):
    from buergerkonto.idp import direct_sql

    account = make_account()

    def fail(sql, connection):
        raise RuntimeError("midway")

    with app.app_context():
        direct_sql.listen(fail)
        try:
            for _ in range(3):
                with pytest.raises(RuntimeError):
                    BY_EMAIL.first(email=account["email"])
        finally:
            direct_sql.remove(fail)
        assert _no_pooled_connection_in_autocommit()
        assert BY_EMAIL.first(email=account["email"])[1] == account["email"]


def _no_pooled_connection_in_autocommit() -> bool:
    pooled = [db.engine.raw_connection() for _ in range(3)]  # including those the reads used
    try:
        return not any(autocommit_of(connection.dbapi_connection) for connection in pooled)
    finally:
        for connection in pooled:
            connection.close()


def test_a_lost_connection_is_replaced_with_the_pool_s_others(app, database_url, postgres_or_skip, make_account):
    account = make_account()
    with app.app_context():
        pooled = [db.engine.raw_connection() for _ in range(2)]  # two connections in the pool
        for connection in pooled:
            connection.close()
        name = database_url.rsplit("/", 1)[1]
        postgres_or_skip.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        with pytest.raises(exc.DBAPIError) as raised:
            BY_EMAIL.first(email=account["email"])
        assert raised.value.connection_invalidated
        assert BY_EMAIL.first(email=account["email"])[1] == account["email"]  # not the other dead one
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        db.session.remove()


def test_a_pool_that_shares_its_one_connection_reads_through_the_session(tmp_path):
    # An in-memory SQLite database has one connection for everyone: a read on it beside the
    # session would see the session's uncommitted rows, and the pool's reset would roll them back.
    from flask_migrate import upgrade

    from buergerkonto.idp import accounts, create_app
    from support.plugin import base_config, close_app

    app = create_app(base_config("sqlite://"))
    try:
        with app.app_context():
            upgrade()
            accounts.create_account("neu@example.org", "Lange-Passphrase-2026", "Neu")
            db.session.flush()
            assert BY_EMAIL.first(email="neu@example.org")[1] == "neu@example.org"
            db.session.commit()
            assert db.session.execute(text("SELECT count(*) FROM account")).scalar() == 1
    finally:
        close_app(app)


@pytest.fixture
def postgres_or_skip(backend, request):
    if backend != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    return request.getfixturevalue("postgres")


def test_a_write_is_committed_by_itself_and_its_errors_are_sqlalchemy_s(app):
    from sqlalchemy import insert

    from buergerkonto.idp.oidc.models import ClientAssertionJti
    from buergerkonto.idp.upsert import insert_unless_present_now

    table = ClientAssertionJti.__table__
    write = DirectStatement(insert(table).values(client_id=bindparam("client_id"), jti=bindparam("jti"),
                                                 expires_at=bindparam("expires_at")))
    with app.app_context():
        assert write.run(client_id="c", jti="once", expires_at=1) == 1
        db.session.rollback()  # the session's rollback does not take it back
        assert db.session.execute(text("SELECT count(*) FROM oidc_client_assertion_jti")).scalar() == 1
        with pytest.raises(exc.IntegrityError):  # the same jti again
            write.run(client_id="c", jti="once", expires_at=1)
        assert insert_unless_present_now(ClientAssertionJti, client_id="c", jti="other", expires_at=1) is True
        assert insert_unless_present_now(ClientAssertionJti, client_id="c", jti="other", expires_at=1) is False
        assert db.session.execute(text("SELECT count(*) FROM oidc_client_assertion_jti")).scalar() == 2
        db.session.remove()
