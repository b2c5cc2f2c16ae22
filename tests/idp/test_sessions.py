"""Server-side sessions: a new id at sign-in, idle and absolute timeouts, ended sessions refused."""

from datetime import timedelta

from support.browser import Browser

from .conftest import sign_in, sign_out

COOKIE = "bk_session"


def _cookie(browser) -> str | None:
    cookie = browser.client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _replay(app, value) -> Browser:
    """Another browser presenting a copied cookie (an attacker, or a planted cookie)."""
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return Browser(client)


def test_sign_in_gives_a_new_session_id_and_the_old_one_is_not_signed_in(app, browser, make_account):
    account = make_account()
    browser.get("/sign-in")
    before = _cookie(browser)
    assert before  # an anonymous session carries the form's CSRF token
    assert sign_in(browser, account["email"], account["password"]).status_code == 302
    after = _cookie(browser)
    assert after and after != before
    assert browser.get("/account").status_code == 200
    # Session fixation: whoever planted or copied the old cookie is not signed in.
    assert _replay(app, before).get("/account").status_code == 302
    assert _replay(app, after).get("/account").status_code == 200


def test_signing_in_again_rotates_again(browser, make_account):
    account = make_account()
    sign_in(browser, account["email"], account["password"])
    first = _cookie(browser)
    sign_in(browser, account["email"], account["password"])
    assert _cookie(browser) != first


def test_only_a_hash_of_the_cookie_is_stored(signed_in, database):
    value = _cookie(signed_in)
    rows = database.rows("SELECT token_hash, sid, data FROM web_session")
    for row in rows:
        assert value not in (row["token_hash"], row["sid"]) and value not in str(row["data"])


def test_idle_timeout_ends_the_session(app, signed_in, database):
    cookie = _cookie(signed_in)
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    _shift(database, signed_in.account["id"], "last_seen_at", idle - timedelta(minutes=1))
    assert signed_in.get("/account").status_code == 200  # a minute left: still in, and touched
    _shift(database, signed_in.account["id"], "last_seen_at", idle + timedelta(seconds=1))
    assert signed_in.get("/account").status_code == 302
    assert _replay(app, cookie).get("/account").status_code == 302


def test_absolute_timeout_ends_even_an_active_session(app, signed_in, database):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        record = WebSession.query.filter_by(account_id=signed_in.account["id"], ended_at=None).one()
        assert record.expires_at - record.created_at == app.config["SESSION_ABSOLUTE_TIMEOUT"]
        db.session.remove()
    # Still active a moment ago, but past its lifetime.
    _shift(database, signed_in.account["id"], "expires_at", timedelta(seconds=1))
    assert signed_in.get("/account").status_code == 302


def _shift(database, account_id, column, by: timedelta):
    """Move a session timestamp into the past (time travel without sleeping)."""
    rows = database.rows(f"SELECT id, {column} FROM web_session WHERE account_id = :a AND ended_at IS NULL",
                         a=account_id)
    from buergerkonto.idp.timeutil import utcnow

    for row in rows:
        # Relative to now, so earlier touches do not matter.
        database.execute(f"UPDATE web_session SET {column} = :t WHERE id = :i", t=utcnow() - by, i=row["id"])


def test_sign_out_ends_the_session_on_the_server(app, signed_in, database):
    cookie = _cookie(signed_in)
    sign_out(signed_in)
    assert signed_in.get("/account").status_code == 302
    assert _replay(app, cookie).get("/account").status_code == 302
    assert "account:session:end" in database.tags(signed_in.account["id"])


def test_sign_out_needs_a_post_with_csrf_token(signed_in):
    assert signed_in.get("/sign-out").status_code == 200  # a confirmation page, still signed in
    assert signed_in.get("/account").status_code == 200
    assert signed_in.post("/sign-out", data={}).status_code == 400  # no token: nothing happens
    assert signed_in.get("/account").status_code == 200


def test_an_ended_session_is_refused_even_if_timestamps_are_fresh(app, signed_in, database):
    cookie = _cookie(signed_in)
    from buergerkonto.idp.timeutil import utcnow

    database.execute("UPDATE web_session SET ended_at = :t WHERE account_id = :a", t=utcnow(),
                     a=signed_in.account["id"])
    assert _replay(app, cookie).get("/account").status_code == 302


def test_garbage_and_overlong_cookies_are_an_anonymous_visit(app):
    for value in ("", "x", "A" * 3000, "../../etc/passwd", "\u00e4\u00f6\u00fc"):
        response = _replay(app, value).get("/account")
        assert response.status_code == 302, value


def test_server_to_server_endpoints_never_read_or_write_the_browser_session(app, signed_in):
    """Portals call the token, userinfo and API endpoints without a browser: a session cookie sent
    there (by a careless client, or a browser fetching the JWKS) must cost no session query or write."""
    def call_them():
        for path in ("/.well-known/openid-configuration", "/oauth/jwks", "/oauth/userinfo",
                     "/api/postbox/v1/messages"):
            response = signed_in.get(path)
            assert "Set-Cookie" not in response.headers, path
        return response

    statements, response = _statements_during(app, call_them)
    assert response.status_code == 401  # the postbox still wants a bearer token, not the cookie
    assert not [s for s in statements if "web_session" in s]
    page = signed_in.get("/account")
    assert page.status_code == 200  # the same cookie still signs the citizen in on pages


def _statements_during(app, action):
    """The SQL statements ``action()`` sends, and its result."""
    from support.statements import recorded_statements

    with recorded_statements(app) as statements:
        result = action()
    return [statement.sql for statement in statements], result


def _writes_to_web_session(app, action):
    """The INSERTs and UPDATEs of ``web_session`` that ``action()`` sends, and its result."""
    statements, result = _statements_during(app, action)
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT INTO WEB_SESSION",
                                                                    "UPDATE WEB_SESSION"))], result


def test_a_sign_in_writes_its_session_once_in_its_own_transaction(app, browser, make_account):
    # The sign-in commits the rotated record; the session's data went along in that commit instead of
    # a second UPDATE (and transaction) after it. The browser is signed in under the new cookie.
    account = make_account()
    page = browser.get("/sign-in?next=/account")
    before = _cookie(browser)
    csrf_before = _record_data(app, before)["csrf_token"]
    writes, response = _writes_to_web_session(app, lambda: browser.submit_page(
        page, {"email": account["email"], "password": account["password"]}, url="/sign-in?next=/account"))
    assert response.status_code == 302
    assert len(writes) == 1, [w[:60] + " ... " + w[-90:] for w in writes]
    assert _cookie(browser) not in (None, before)
    assert browser.get("/account").status_code == 200
    assert _record_data(app, _cookie(browser))["csrf_token"] != csrf_before  # renewed at sign-in


def _record_data(app, token) -> dict:
    from buergerkonto.idp.crypto import sha256_hex
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        return dict(WebSession.query.filter_by(token_hash=sha256_hex(token)).one().data or {})


def test_session_changes_after_the_views_commit_are_saved_too(make_app, make_account):
    # A view that commits and then changes the session: the change after the commit is written at the
    # end of the request; one before it went along with the commit.
    from flask import session

    from buergerkonto.idp.extensions import db

    app = make_app()

    @app.route("/_test/commit-then-change")
    def commit_then_change():
        session["before_commit"] = "a"
        db.session.commit()
        session["after_commit"] = "b"
        return "ok"

    browser = Browser(app.test_client())
    account = make_account()
    assert sign_in(browser, account["email"], account["password"]).status_code == 302
    writes, response = _writes_to_web_session(app, lambda: browser.get("/_test/commit-then-change"))
    assert response.status_code == 200 and len(writes) == 2, writes
    data = _record_data(app, _cookie(browser))
    assert data["before_commit"] == "a" and data["after_commit"] == "b"
