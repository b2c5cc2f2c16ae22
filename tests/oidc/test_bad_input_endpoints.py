"""Headers, path values and parameters at the provider's endpoints that used to end in a 500."""

import logging

import pytest


def _count_issued(app):
    from buergerkonto.idp.oidc.models import AuthorizationCode, Token

    with app.app_context():
        return AuthorizationCode.query.count() + Token.query.count()


# gunicorn strips only spaces and tabs around a header value (gunicorn/http/message.py, parse_headers),
# so a no-break space (byte 0xA0) or NEL (0x85) after the scheme reaches the app; Python's str.split()
# counts both as whitespace, and Authlib's ``auth_type, auth_token = auth.split(None, 1)`` fails.
@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize("header", ["Basic \xa0", "Bearer \xa0", "Basic \x85", "Bearer "],
                         ids=["basic-nbsp", "bearer-nbsp", "basic-nel", "bearer-space"])
def test_an_authorization_header_with_only_whitespace_after_the_scheme_is_invalid_client(
        client, portal, app, caplog, path, header):
    caplog.set_level(logging.ERROR)
    before = _count_issued(app)
    response = client.post(path, data={"grant_type": "client_credentials", "token": "x"},
                           headers={"Authorization": header})
    assert response.status_code in (400, 401), response.status_code
    assert response.get_json()["error"] == "invalid_client"
    assert not [r for r in caplog.records if r.exc_info]
    assert _count_issued(app) == before


# Authlib refuses a request URL that is neither https nor loopback (InsecureTransportError) from the
# constructor of its request object (idp/oidc/server.py create_oauth2_request), outside any handler:
# the Host header picks the URL, and an address the service is reached by (a LAN address of the demo)
# or a malformed one ("[::1", which urlsplit cannot parse, refused even under an https issuer) is a 500.
@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize("host", ["[::1", "192.168.1.5:5000", "bürgerkonto.example"])
def test_an_odd_host_header_at_the_token_endpoints_is_no_500(client, portal, rp, app, caplog, path, host):
    caplog.set_level(logging.ERROR)
    headers = {**rp.basic_auth(), "Host": host}
    response = client.post(path, data={"grant_type": "client_credentials", "token": "x"}, headers=headers)
    assert response.status_code < 500, response.status_code
    assert not [r for r in caplog.records if r.exc_info]


def test_an_odd_host_header_under_an_https_issuer_is_no_500(make_app, portal, caplog):
    app = make_app(ISSUER="https://buergerkonto.example", TRUSTED_PROXIES=1)
    client = app.test_client()
    import base64

    basic = base64.b64encode(f"{portal['client_id']}:{portal['client_secret']}".encode()).decode()
    caplog.set_level(logging.ERROR)
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": "Basic " + basic, "X-Forwarded-Proto": "https",
                                    "X-Forwarded-Host": "[::1"})
    assert response.status_code < 500, response.status_code
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("number", ["9223372036854775808", "99999999999999999999", "2147483648"])
def test_a_consent_number_beyond_the_column_is_no_500(browser, citizen, app, caplog, number):
    """``<int:consent_id>`` has no upper bound: the value goes to ``db.session.get`` as it is."""
    caplog.set_level(logging.ERROR)
    token = browser.csrf_token("/account")
    response = browser.post(f"/account/consents/{number}/revoke", data={"csrf_token": token})
    assert response.status_code < 500, response.status_code
    assert not [r for r in caplog.records if r.exc_info]


# --- the claims parameter of the authorization request ---------------------------------------------

def _refused_or_answered(rp, response):
    """A portal's request gets the protocol's answer at its redirect URI (or a page), never a 500."""
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302:
        result = rp.callback(response)
        assert "error" in result or "code" in result, result


def test_a_deeply_nested_claims_parameter_is_invalid_request(rp, citizen, app, caplog):
    """4,000 characters (within MAX_CLAIMS_PARAMETER) of nested arrays: json.loads raises RecursionError,
    which idp/oidc/claims.py parse_claims_request does not catch (only ValueError)."""
    caplog.set_level(logging.ERROR)
    before = _count_issued(app)
    response = rp.browser.get(rp.authorize_url(claims="[" * 2000 + "]" * 2000))
    assert response.status_code == 302, response.status_code
    assert rp.callback(response)["error"] == "invalid_request"
    assert not [r for r in caplog.records if r.exc_info]
    assert _count_issued(app) == before


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_claims_parameter_with_nan_or_infinity_is_no_500(rp, citizen, app, caplog, literal):
    """Python's json reads NaN/Infinity (and 1e999 as inf); the claims request is stored in a JSON column,
    and PostgreSQL's json type refuses them (DataError: invalid input syntax for type json)."""
    caplog.set_level(logging.ERROR)
    claims = '{"id_token": {"given_name": {"value": %s}}}' % literal
    response = rp.browser.get(rp.authorize_url(claims=claims))
    _refused_or_answered(rp, response)
    assert not [r for r in caplog.records if r.exc_info]
