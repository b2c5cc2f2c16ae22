"""The per-process caches of clients, keys and discovery (``idp.cache``).

(Key rotation in this process is covered by test_key_rotation.py, which rotates through the CLI.)

A change made in this process is seen at once; a change made by another process
(here: plain SQL over a second connection, which the ORM events do not see) is
seen within ``CACHE_SECONDS``; and a portal deleted meanwhile never causes a 500.
"""

import base64
import time

import pytest
import sqlalchemy


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CACHE_SECONDS": 60}


def _token(client, reg, secret=None):
    basic = base64.b64encode(f"{reg['client_id']}:{secret or reg['client_secret']}".encode()).decode()
    return client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": "Basic " + basic})


def _other_process(app, sql, **params):
    """Write like another gunicorn worker or a CLI run would: outside this app's session."""
    engine = sqlalchemy.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(sql), params)
    finally:
        engine.dispose()


def test_a_secret_changed_in_this_process_takes_effect_at_once(app, client, make_client):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import Client, hash_secret

    reg = make_client()
    assert _token(client, reg).status_code == 200  # the client is now cached
    with app.app_context():
        row = Client.query.filter_by(client_id=reg["client_id"]).one()
        row.client_secret = hash_secret("a-new-secret-of-enough-length-000000")
        db.session.commit()
    assert _token(client, reg).status_code == 401
    assert _token(client, reg, "a-new-secret-of-enough-length-000000").status_code == 200


def test_a_portal_deleted_by_another_process_gets_invalid_client_not_a_500(app, client, make_client):
    """An opaque token's INSERT finds the portal gone even while this process still has it cached."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite (the one-process demo) does not enforce foreign keys; in one process a "
                    "deletion forgets the cache at once (test_a_secret_changed_in_this_process...)")
    reg = make_client(access_token_format="opaque")
    assert _token(client, reg).status_code == 200  # cached for 60 s in this process
    for table in ("oauth_token", "oauth_client"):
        _other_process(app, f"DELETE FROM {table} WHERE client_id = :c", c=reg["client_id"])
    response = _token(client, reg)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert _token(client, reg).status_code == 401  # and the cache has forgotten it


def test_a_jwt_portal_deleted_by_another_process_is_refused_once_the_cache_renews(app, client, make_client):
    """A JWT access token stores nothing, so only the cache's renewal tells this process the portal is gone
    (the documented ``CACHE_SECONDS`` delay); from then on it gets no token and its tokens are refused."""
    from buergerkonto.idp.cache import forget

    reg = make_client()
    issued = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "postbox.send"},
                         headers={"Authorization": "Basic " + base64.b64encode(
                             f"{reg['client_id']}:{reg['client_secret']}".encode()).decode()}).get_json()
    assert issued["access_token"].count(".") == 2
    _other_process(app, "DELETE FROM oauth_client WHERE client_id = :c", c=reg["client_id"])
    with app.app_context():
        forget("clients")  # what CACHE_SECONDS later does by itself
    response = _token(client, reg)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    response = client.post("/api/postbox/v1/messages", json={"recipient": "r", "subject": "s", "body": "b"},
                           headers={"Authorization": "Bearer " + issued["access_token"]})
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_secret_rotated_by_another_process_reaches_this_one_within_the_cache_lifetime(app, client, make_client):
    from buergerkonto.idp.oidc.models import hash_secret

    app.config["CACHE_SECONDS"] = 0.5
    reg = make_client()
    with app.app_context():
        new_hash = hash_secret("rotated-elsewhere-secret-0000000000")
    assert _token(client, reg).status_code == 200
    _other_process(app, "UPDATE oauth_client SET client_secret = :h WHERE client_id = :c",
                   h=new_hash, c=reg["client_id"])
    deadline = time.monotonic() + 30
    while _token(client, reg).status_code == 200:
        assert time.monotonic() < deadline, "the old secret was still accepted after 30 s"
        time.sleep(0.1)
    assert _token(client, reg, "rotated-elsewhere-secret-0000000000").status_code == 200


def test_discovery_follows_an_upstream_configured_in_this_process(app, client):
    from buergerkonto.federation import settings
    from buergerkonto.idp.extensions import db

    before = client.get("/.well-known/openid-configuration").get_json()  # now cached for 60 s
    assert "vouch" not in before.get("evidence_supported", [])
    with app.app_context():
        settings.store("https://land.example", "bk-client", "s" * 32, None, None, None, None)
        db.session.commit()
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert "vouch" in metadata["evidence_supported"]


def test_repeated_userinfo_calls_record_released_claims_once_and_then_skip_the_lookup(app, rp, citizen):
    from buergerkonto.idp.oidc.models import PortalSignIn
    from support.statements import recorded_statements

    access = rp.tokens(scope="openid email")["access_token"]
    assert rp.userinfo(access).status_code == 200
    with app.app_context():
        row = PortalSignIn.query.one()
        assert "email" in row.claims  # what the portal received is on record
    with recorded_statements(app) as statements:
        assert rp.userinfo(access).status_code == 200
    assert statements and not [s for s in statements if "oidc_portal_sign_in" in s.sql]
    # A claim not yet on record is still written at once.
    profile = rp.tokens(scope="openid profile")["access_token"]
    assert rp.userinfo(profile).status_code == 200
    with app.app_context():
        assert {"email", "name"} <= set(PortalSignIn.query.one().claims)


def test_the_cached_portal_never_joins_a_session(app, rp, citizen):
    # The process's threads share the cached portal (``server.cached_client``): requests read it and
    # never merge or add it into their session. In a session it would be one thread's object.
    from sqlalchemy import inspect

    from buergerkonto.idp.oidc.server import cached_client

    tokens = rp.tokens(scope="openid email offline_access")  # authorize, sign-in, code
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    assert rp.token({"grant_type": "client_credentials"}).status_code == 200
    assert rp.http.post("/oauth/introspect", data={"token": tokens["access_token"]},
                        headers=rp.basic_auth()).get_json()["active"] is True
    assert rp.refresh(tokens["refresh_token"]).status_code == 200
    assert rp.http.post("/oauth/revoke", data={"token": tokens["refresh_token"]},
                        headers=rp.basic_auth()).status_code == 200
    with app.app_context():
        shared = cached_client(rp.client_id)
    assert shared is not None and inspect(shared).detached and inspect(shared).session is None
