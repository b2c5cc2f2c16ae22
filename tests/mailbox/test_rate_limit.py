"""Sends are rate-limited per sending portal (Flask-Limiter keyed by client), answered 429."""

import pytest


@pytest.fixture
def app_config(app_config):
    return dict(app_config, RATELIMIT_ENABLED=True, POSTBOX_SEND_RATE_LIMIT="3/minute")


def test_a_portal_over_its_send_limit_gets_429_and_others_do_not(leer, landkreis, citizen):
    token, sub = leer.portal_token(), leer.sub()
    for _ in range(3):
        assert leer.send(token, sub).status_code == 201
    response = leer.send(token, sub)
    assert response.status_code == 429 and response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    # A second token of the same portal shares its budget; another portal has its own.
    assert leer.send(leer.portal_token(), sub).status_code == 429
    assert landkreis.send(landkreis.portal_token(), landkreis.sub()).status_code == 201


def test_requests_without_a_live_token_get_401_not_429(leer, citizen, kit):
    """The limit counts senders; a request that names none is refused as such, however often."""
    sub = leer.sub()
    for headers in ({}, kit.bearer("kein-gueltiges-token"), {"Authorization": "Basic eDp5"}):
        for _ in range(5):
            response = leer.http.post(f"{kit.API}/messages", json={"recipient": sub, "subject": "s", "body": "b"},
                                      headers=headers)
            assert response.status_code == 401, (headers, response.status_code)
            assert response.mimetype == "application/problem+json"
    # ... and they did not use up the portal's budget.
    token = leer.portal_token()
    for _ in range(3):
        assert leer.send(token, sub).status_code == 201


@pytest.mark.parametrize("token_format,table", [("opaque", "oauth_token"), ("jwt", "oauth_revoked_access_token")])
def test_a_send_looks_its_token_up_once(make_portal, citizen, app, token_format, table):
    """The per-portal limit is keyed by the token the view authenticates with: one query, not two
    (for an opaque token its row, for a JWT access token the check that it was not revoked)."""
    from support.statements import recorded_statements

    leer = make_portal("Stadt Leer", "leer.example", access_token_format=token_format)
    token, sub = leer.portal_token(), leer.sub()
    with recorded_statements(app) as recorded:
        assert leer.send(token, sub).status_code == 201
    statements = [statement.sql for statement in recorded]
    lookups = [s for s in statements if s.lstrip().upper().startswith("SELECT")
               and ("FROM oauth_token" in s or "FROM oauth_revoked_access_token" in s)]
    assert len(lookups) == 1 and f"FROM {table}" in lookups[0], lookups
