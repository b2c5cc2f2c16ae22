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
