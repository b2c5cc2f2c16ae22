"""The upstream's callback, its token response and its ID token, seen by an attacker. Tests that say
"found by a review" failed before their fix; the others are regression tests of refused attacks."""

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests

from support.upstream.harness import query_of
from support.upstream.helpers import account_count, events, federated_sessions, identities


def _refusals(app):
    return [details["reason"] for tag, details in events(app) if tag == "federation:signin:refused"]


def _start(browser, next_path=None):
    url = "/federation/start" + (f"?next={requests.utils.quote(next_path, safe='')}" if next_path else "")
    start = browser.get(url)
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    return start.headers["Location"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def token_endpoint_answering(endpoint_answering):
    """``token_endpoint_answering(make_body)``: the upstream's token endpoint answers 200 with ``make_body()``."""
    return lambda make_body: endpoint_answering("token_endpoint", make_body)


def _id_token_claims(upstream, nonce, **overrides):
    now = int(time.time())
    claims = {"iss": upstream.issuer, "aud": "buergerkonto", "sub": "erika", "iat": now, "exp": now + 300,
              "nonce": nonce, "auth_time": now, "acr": "http://eidas.europa.eu/LoA/high"}
    claims.update(overrides)
    return claims


# --- found by a review -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("claims", [{"auth_time": -100_000_000_000},
                                    {"auth_time": None, "iat": -100_000_000_000}],
                         ids=["auth_time", "iat-without-auth_time"])
def test_an_absurdly_old_auth_time_is_refused_not_a_server_error(app, browser, federated, upstream, claims):
    """Found by a review: tokens.validate_id_token checks auth_time only against the future, and iat is only checked
    for that by joserfc; service.sign_in/_record_proof then turn it into a datetime (``_utc``) and the
    first-sign-in (or repeat sign-in) dies with ValueError "year is out of range" (HTTP 500) instead of a
    refusal page and a security event at the callback."""
    upstream.admin("tamper", claims=claims)
    response = federated("erika")
    if response.status_code == 302 and response.headers["Location"] == "/federation/new":
        response = browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    assert response.status_code != 500
    assert response.status_code == 400
    assert any(reason.startswith("id-token:invalid_claim") for reason in _refusals(app)), _refusals(app)
    assert account_count(app) == 0 and federated_sessions(app) == []


@pytest.mark.parametrize("expires_in", [[3600], {"s": 3600}], ids=["list", "object"])
def test_a_token_response_with_a_garbage_expires_in_shows_the_unavailable_page(
        app, browser, upstream, citizen_upstream, token_endpoint_answering, expires_in):
    """Found by a review: client.exchange_code catches ValueError from Authlib's token parsing but not TypeError,
    which ``int(expires_in)`` raises for a list or an object: a broken upstream (or proxy) gives a 500."""
    authorization = _start(browser)
    token_endpoint_answering(lambda: json.dumps({"access_token": "at", "token_type": "Bearer",
                                                 "id_token": "a.b.c", "expires_in": expires_in}))
    callback = citizen_upstream.authorize(authorization, "erika")
    response = browser.get(callback)
    assert response.status_code == 503
    assert ("federation:upstream:unavailable", {"reason": "token-response"}) in events(app)
    assert browser.get("/account").status_code == 302


@pytest.mark.parametrize("claims", [{"sid": "s" * 300}, {"acr": "urn:x:" + "a" * 300}], ids=["sid", "acr"])
def test_overlong_upstream_sid_or_acr_does_not_crash_the_callback(app, browser, federated, upstream, claims):
    """Found by a review (PostgreSQL): ``sid`` and ``acr`` are only type-checked (tokens.validate_id_token), but the
    columns FederatedSession.upstream_sid/acr and FederatedIdentity.acr are VARCHAR(255). On PostgreSQL
    the INSERT raises DataError (500, the transaction lost) instead of a refusal; ``sub`` has the
    length check these lack. (SQLite ignores VARCHAR lengths, so this passes there.)"""
    upstream.admin("tamper", claims=claims)
    response = federated("erika")
    if response.status_code == 302 and response.headers["Location"] == "/federation/new":
        response = browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    assert response.status_code in (302, 400), response.status_code


# --- refused today (regression tests) ---------------------------------------------------------------------


def test_alg_none_id_token_is_refused(app, browser, upstream, citizen_upstream, token_endpoint_answering):
    authorization = _start(browser)
    nonce = query_of(authorization)["nonce"]
    claims = _id_token_claims(upstream, nonce)
    token = f"{_b64(json.dumps({'alg': 'none'}).encode())}.{_b64(json.dumps(claims).encode())}."
    token_endpoint_answering(lambda: json.dumps({"access_token": "at", "token_type": "Bearer", "id_token": token}))
    response = browser.get(citizen_upstream.authorize(authorization, "erika"))
    assert response.status_code == 400
    assert any(r.startswith("id-token:") for r in _refusals(app)), _refusals(app)
    assert identities(app) == [] and browser.get("/account").status_code == 302


@pytest.mark.parametrize("secret_form", ["pem", "n"])
def test_hs256_signed_with_the_upstreams_public_key_is_refused(app, browser, upstream, citizen_upstream,
                                                               token_endpoint_answering, secret_form):
    from joserfc.jwk import RSAKey

    authorization = _start(browser)
    nonce = query_of(authorization)["nonce"]
    jwk = requests.get(requests.get(upstream.issuer + "/.well-known/openid-configuration", timeout=10)
                       .json()["jwks_uri"], timeout=10).json()["keys"][0]
    secret = RSAKey.import_key(jwk).as_pem(private=False) if secret_form == "pem" else jwk["n"].encode()
    header = {"alg": "HS256", "kid": jwk["kid"]}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_id_token_claims(upstream, nonce)).encode())}"
    signature = _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    token = f"{signing_input}.{signature}"
    token_endpoint_answering(lambda: json.dumps({"access_token": "at", "token_type": "Bearer", "id_token": token}))
    response = browser.get(citizen_upstream.authorize(authorization, "erika"))
    assert response.status_code == 400
    assert "id-token:alg" in _refusals(app)
    assert identities(app) == []


def test_id_token_with_a_wrong_at_hash_is_refused(app, browser, federated, upstream):
    upstream.admin("tamper", claims={"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"})
    response = federated("erika")
    assert response.status_code == 400
    assert any("at_hash" in r for r in _refusals(app)), _refusals(app)


def test_id_token_issued_in_the_future_is_refused(app, browser, federated, upstream):
    upstream.admin("tamper", claims={"iat": int(time.time()) + 3600})
    assert federated("erika").status_code == 400
    assert any(r.startswith("id-token:invalid_claim:iat") for r in _refusals(app)), _refusals(app)


def test_callback_without_code_and_with_garbage_is_refused_cleanly(app, browser, citizen_upstream, upstream):
    callback = citizen_upstream.authorize(_start(browser), "erika")
    params = query_of(callback)
    iss = requests.utils.quote(upstream.issuer, safe="")
    response = browser.get(f"/federation/callback?state={params['state']}&iss={iss}")
    assert response.status_code == 400
    assert _refusals(app) == ["code-missing"]
    callback = citizen_upstream.authorize(_start(browser), "erika")
    params = query_of(callback)
    response = browser.get(f"/federation/callback?state={params['state']}&iss={iss}&error=%00%ff" + "x" * 5000)
    assert response.status_code in (400, 502)
    assert account_count(app) == 0


def test_a_callback_cannot_be_replayed_with_another_state_of_the_same_browser(app, browser, citizen_upstream):
    """The code of flow A with the state of flow B (both started in this browser): PKCE binds the code
    to A's verifier, so the upstream refuses it."""
    first = _start(browser)
    second = _start(browser)
    callback_a = citizen_upstream.authorize(first, "erika")
    state_b = query_of(second)["state"]
    forged = callback_a.replace(query_of(callback_a)["state"], state_b)
    response = browser.get(forged)
    assert response.status_code in (400, 502)
    assert identities(app) == [] and browser.get("/account").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "/\t/evil.example", "javascript:alert(1)"])
def test_next_cannot_send_the_citizen_off_site_after_the_upstream_sign_in(app, browser, federated, target):
    assert federated("erika", next=target).headers["Location"] == "/federation/new"
    created = browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    assert created.headers["Location"] == "/account"


def test_an_unverified_upstream_email_of_an_existing_account_neither_links_nor_signs_in(
        app, browser, federated, upstream, make_account):
    victim = make_account("victim@example.org")
    upstream.admin("tamper", claims={"email": "VICTIM@example.org", "email_verified": False})
    assert federated("lena").headers["Location"] == "/federation/new"
    assert browser.get("/account").status_code == 302
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    [(_, _, account_id, _)] = identities(app)
    assert account_id != victim["id"]
