"""Bad input at every endpoint: the protocol's error, never a 500, nothing issued."""

import base64
from urllib.parse import urlencode

import pytest

from support.plugin import sign_in


def _count_issued(app):
    from buergerkonto.idp.oidc.models import AuthorizationCode, Token

    with app.app_context():
        return AuthorizationCode.query.count() + Token.query.count()


@pytest.fixture
def signed_in_rp(rp, citizen):
    return rp


def test_foreign_redirect_uri_gets_a_page_never_a_redirect(signed_in_rp, app):
    rp = signed_in_rp
    for uri in ("https://evil.example/cb", rp.redirect_uri + "/", rp.redirect_uri + "?x=1", rp.redirect_uri.upper(),
                "http://portal.example/callback"):
        response = rp.browser.get(rp.authorize_url(redirect_uri=uri))
        assert response.status_code == 400, uri
        assert "Location" not in response.headers
    assert _count_issued(app) == 0


def test_unknown_or_missing_client_gets_a_page(signed_in_rp):
    rp = signed_in_rp
    for client_id in ("unknown", "", "x" * 3000, 'a"b'):
        response = rp.browser.get(rp.authorize_url(client_id=client_id))
        assert response.status_code == 400 and "Location" not in response.headers, client_id
    response = rp.browser.get(rp.authorize_url(client_id=None))
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                                  "code_challenge", "prompt", "claims"])
def test_repeated_parameters_are_refused(signed_in_rp, name, app):
    rp = signed_in_rp
    url = rp.authorize_url()
    value = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri}.get(name, "x")
    response = rp.browser.get(url + "&" + urlencode({name: value}))
    if response.status_code == 302:
        assert rp.callback(response)["error"] == "invalid_request"
    else:
        assert response.status_code == 400
    assert _count_issued(app) == 0


def test_overlong_and_control_character_parameters_are_refused(signed_in_rp, app):
    rp = signed_in_rp
    # A nonce of 513 multi-byte characters would overflow its index entry (codes are indexed by nonce).
    for params in ({"state": "s" * 5000}, {"nonce": "n" * 5000}, {"nonce": "ü" * 513}, {"scope": "openid \x00"},
                   {"login_hint": "a\x01b"}, {"unknown_extension": "u" * 5000}):
        response = rp.browser.get(rp.authorize_url(**params))
        assert response.status_code in (302, 400), params
        if response.status_code == 302:
            assert rp.callback(response)["error"] == "invalid_request", params
    assert _count_issued(app) == 0


def test_tabs_and_line_breaks_are_no_control_characters_to_refuse(signed_in_rp):
    """Text a person may have typed (a ``login_hint`` pasted with a line break) is not refused as such."""
    for hint in ("a\tb", "a\nb", "a\r\nb"):
        assert "code" in signed_in_rp.callback(signed_in_rp.authorize(login_hint=hint)), repr(hint)


def test_a_nonce_of_512_multibyte_characters_is_stored_and_checked(signed_in_rp):
    nonce = "\U0001f600" * 512  # 2,048 bytes in UTF-8: the most the index must hold
    assert "code" in signed_in_rp.callback(signed_in_rp.authorize(nonce=nonce))
    replay = signed_in_rp.callback(signed_in_rp.authorize(nonce=nonce))
    assert replay["error"] == "invalid_request"


def test_unknown_parameters_are_ignored(signed_in_rp):
    assert "code" in signed_in_rp.callback(signed_in_rp.authorize(foo="bar", display="page"))


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token", "none", "bogus"])
def test_implicit_and_hybrid_are_refused_with_iss(signed_in_rp, response_type, app):
    result = signed_in_rp.callback(signed_in_rp.authorize(response_type=response_type))
    assert result["error"] == "unsupported_response_type" and result["iss"] == "http://localhost"
    assert "code" not in result and "access_token" not in result
    assert _count_issued(app) == 0


def test_request_objects_and_other_response_modes_are_refused(signed_in_rp):
    rp = signed_in_rp
    assert rp.callback(rp.authorize(request="eyJ.x.y"))["error"] == "request_not_supported"
    assert rp.callback(rp.authorize(request_uri="https://x.example/r"))["error"] == "request_uri_not_supported"
    assert rp.callback(rp.authorize(response_mode="fragment"))["error"] == "invalid_request"


def test_replayed_nonce_is_refused(signed_in_rp):
    rp = signed_in_rp
    rp.code(nonce="fixed-nonce")
    assert rp.callback(rp.authorize(nonce="fixed-nonce"))["error"] == "invalid_request"


def test_replayed_nonce_from_a_browser_not_signed_in_is_refused_before_a_code_is_issued(signed_in_rp, make_account,
                                                                                        app):
    # The nonce is looked up in the pass that issues the code, not before the sign-in page: the replay
    # is caught when the citizen comes back signed in, and no second code carries the nonce.
    from support.browser import Browser

    rp = signed_in_rp
    rp.code(nonce="fixed-nonce")  # a first citizen's sign-in at the portal
    before = _count_issued(app)
    account = make_account()
    rp.browser = browser = Browser(app.test_client())  # a second browser, no session
    response = browser.get(rp.authorize_url(nonce="fixed-nonce"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"], {"email": account["email"], "password": account["password"]})
    assert rp.callback(browser.follow(done))["error"] == "invalid_request"
    assert _count_issued(app) == before


def test_tampered_or_unsigned_id_token_hint_is_refused(signed_in_rp, app):
    rp = signed_in_rp
    id_token = rp.tokens()["id_token"]
    header, payload, _sig = id_token.split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    before = _count_issued(app)
    for hint in (f"{header}.{payload}.AAAA", f"{none_header}.{payload}.", "garbage", "a.b.c"):
        result = rp.callback(rp.authorize(id_token_hint=hint))
        assert result["error"] == "invalid_request", hint
    assert _count_issued(app) == before


def test_id_token_hint_for_another_client_is_refused(signed_in_rp, make_rp):
    other = make_rp(name="Other")
    hint = other.tokens()["id_token"]
    assert signed_in_rp.callback(signed_in_rp.authorize(id_token_hint=hint))["error"] == "invalid_request"


def test_id_token_hint_of_another_citizen_asks_for_sign_in(signed_in_rp, make_account, app):
    from support.browser import Browser

    rp = signed_in_rp
    other_account = make_account()
    other_browser = Browser(app.test_client())
    sign_in(other_browser, other_account["email"], other_account["password"])
    original = rp.browser
    rp.browser = other_browser
    foreign_hint = rp.tokens()["id_token"]
    rp.browser = original
    response = rp.browser.get(rp.authorize_url(id_token_hint=foreign_hint))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    assert rp.callback(rp.authorize(id_token_hint=foreign_hint, prompt="none"))["error"] == "login_required"


# --- token endpoint --------------------------------------------------------------------------

def test_token_endpoint_bad_requests_answer_oauth_errors(rp, client, app):
    cases = [
        ({}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "x" * 5000}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "nope", "redirect_uri": rp.redirect_uri,
          "code_verifier": "v" * 50}, "invalid_grant"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
    ]
    for data, error in cases:
        response = rp.token(data)
        assert response.status_code == 400, (data, response.status_code)
        assert response.get_json()["error"] == error, (data, response.get_json())
    assert _count_issued(app) == 0


def test_token_endpoint_refuses_repeated_and_query_parameters(rp, citizen):
    code = rp.code()
    body = urlencode([("grant_type", "authorization_code"), ("code", code), ("code", code),
                      ("redirect_uri", rp.redirect_uri), ("code_verifier", rp.verifier)])
    headers = {"Authorization": "Basic " + base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode(),
               "Content-Type": "application/x-www-form-urlencoded"}
    response = rp.http.post("/oauth/token", data=body, headers=headers)
    assert response.get_json()["error"] == "invalid_request"
    response = rp.http.post("/oauth/token?client_secret=" + rp.secret, data={"grant_type": "client_credentials"},
                            headers=headers)
    assert response.get_json()["error"] == "invalid_request"
    assert rp.redeem(code).status_code == 200  # the code was not burnt by the bad requests


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
                                    "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer x", "Basic"])
def test_malformed_client_credentials_are_invalid_client(rp, header):
    response = rp.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            headers={"Authorization": header})
    assert response.status_code in (400, 401) and response.get_json()["error"] == "invalid_client"


def test_get_and_json_bodies_are_refused(rp, client):
    assert client.get("/oauth/token").status_code == 405
    response = client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert response.status_code in (400, 401) and "error" in response.get_json()


def test_userinfo_refuses_token_in_query_and_bad_headers(rp, citizen, client):
    token = rp.tokens()["access_token"]
    assert client.get("/oauth/userinfo?access_token=" + token).status_code == 400
    for header in ("Bearer", "Bearer " + "x" * 5000, "Basic abc", "bearer  "):
        response = client.get("/oauth/userinfo", headers={"Authorization": header})
        assert response.status_code in (400, 401), header
        assert response.get_json()["error"]


def test_revocation_and_introspection_bad_input(rp):
    headers = {"Authorization": "Basic " + base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()}
    for path in ("/oauth/revoke", "/oauth/introspect"):
        assert rp.http.post(path, data={}, headers=headers).get_json()["error"] == "invalid_request"
        response = rp.http.post(path, data={"token": "x", "token_type_hint": "weird"}, headers=headers)
        assert response.get_json()["error"] == "unsupported_token_type"
        assert rp.http.post(path, data={"token": "x" * 5000}, headers=headers).get_json()["error"] == "invalid_request"
        response = rp.http.post(path, data={"token": "x"}, headers={"Authorization": "Basic Zm9vOmJhcg=="})
        assert response.get_json()["error"] == "invalid_client"


def test_end_session_garbage_never_fails(client):
    for query in ("id_token_hint=" + "x" * 5000, "post_logout_redirect_uri=javascript:alert(1)",
                  "client_id=unknown&post_logout_redirect_uri=https://evil.example", "id_token_hint=a.b.c"):
        response = client.get("/end-session?" + query)
        assert response.status_code in (200, 400), query
        assert "Location" not in response.headers
