"""The authorization code flow end to end: sign-in, code, tokens, verified ID token, userinfo."""

import time
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt

from support.plugin import sign_in


def test_signed_in_citizen_gets_code_and_verifiable_id_token(rp, citizen):
    tokens = rp.tokens("openid profile email")
    assert tokens["token_type"] == "Bearer"
    assert 300 <= tokens["expires_in"] <= 600
    assert "refresh_token" not in tokens  # only with offline_access
    claims = rp.id_token(tokens["id_token"])
    for name in ("iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr", "amr", "sid", "sub"):
        assert name in claims, name
    assert claims["acr"] == "http://eidas.europa.eu/LoA/low"
    assert claims["amr"] == ["pwd"]
    assert claims["auth_time"] <= time.time()


def test_id_token_is_es256_with_kid_by_default_and_rs256_on_request(make_rp, citizen):
    es = make_rp()
    header = jwt.decode(es.tokens()["id_token"], es.jwks()).header
    assert header["alg"] == "ES256" and header["kid"]
    rs = make_rp(id_token_alg="RS256")
    header = jwt.decode(rs.tokens()["id_token"], rs.jwks()).header
    assert header["alg"] == "RS256" and header["kid"]


def test_anonymous_browser_is_sent_to_sign_in_and_comes_back_with_code(rp, browser, make_account):
    account = make_account()
    response = browser.get(rp.authorize_url("openid email", login_hint=account["email"]))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/sign-in?")
    query = parse_qs(urlsplit(location).query)
    assert query["login_hint"] == [account["email"]]
    # The sign-in form is pre-filled from login_hint.
    page = browser.get(location)
    assert account["email"] in page.get_data(as_text=True)
    done = browser.submit(location, {"email": account["email"], "password": account["password"]})
    result = rp.callback(browser.follow(done))
    assert result["iss"] == "http://localhost" and result["state"] == rp.state
    response = rp.redeem(result["code"])
    assert response.status_code == 200
    rp.id_token(response.get_json()["id_token"])


def test_plain_sign_in_answers_with_the_code_itself(rp, browser, make_account):
    """No detour through a remembered request, and no second trip through ``/authorize``: the sign-in's
    ``next`` is the request itself, and the sign-in's response is the redirect to the portal."""
    account = make_account()
    sign_in_page = browser.get(rp.authorize_url("openid")).headers["Location"]
    back = parse_qs(urlsplit(sign_in_page).query)["next"][0]
    assert back.startswith("/authorize?") and f"state={rp.state}" in back
    done = browser.submit(sign_in_page, {"email": account["email"], "password": account["password"]})
    result = rp.callback(done)
    assert result["state"] == rp.state and result["iss"] == "http://localhost"
    assert rp.redeem(result["code"]).status_code == 200


def test_request_too_long_for_next_is_remembered_and_resumed(rp, browser, make_account):
    account = make_account()
    long_state = "s" * 1900  # the whole request would not fit the sign-in's ``next``
    sign_in_page = browser.get(rp.authorize_url("openid", state=long_state)).headers["Location"]
    back = parse_qs(urlsplit(sign_in_page).query)["next"][0]
    assert back.startswith("/authorize/resume/") and len(back) < 100
    done = browser.submit(sign_in_page, {"email": account["email"], "password": account["password"]})
    result = rp.callback(done)  # resumed in the sign-in's own response
    assert result["state"] == long_state and rp.redeem(result["code"]).status_code == 200


def test_userinfo_returns_claims_of_granted_scopes_by_get_and_post(rp, browser, make_account):
    account = make_account(name="Erika Mustermann", given_name="Erika", family_name="Mustermann")
    sign_in(browser, account["email"], account["password"])
    tokens = rp.tokens("openid profile email")
    for method in ("GET", "POST"):
        response = rp.userinfo(tokens["access_token"], method)
        assert response.status_code == 200
        info = response.get_json()
        assert info["sub"] == rp.id_token(tokens["id_token"])["sub"]
        assert info["email"] == account["email"] and info["email_verified"] is True
        assert info["name"] == "Erika Mustermann"
        assert "address" not in info and "phone_number" not in info


def test_userinfo_refuses_missing_wrong_and_revoked_tokens(rp, citizen, client):
    assert client.get("/oauth/userinfo").status_code == 401
    response = client.get("/oauth/userinfo", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_scopes_the_client_did_not_register_are_not_granted(make_rp, citizen):
    rp = make_rp(scope="openid email")
    tokens = rp.tokens("openid email phone address")
    assert set(tokens["scope"].split()) == {"openid", "email"}
