"""Logout across the border: upstream back-channel logout ends our session; our logout offers theirs."""

import base64
import json
import time
import uuid

import pytest
from joserfc import jws

from support.upstream.helpers import events, federated_sessions, identities, live_sessions

from buergerkonto.federation.tokens import BACKCHANNEL_EVENT


def _create(browser, federated, login="erika"):
    federated(login)
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    [(_, _, account_id, _)] = identities(browser_app(browser))
    return account_id


def browser_app(browser):
    return browser.client.application


def test_upstream_back_channel_logout_ends_the_linked_session(app, browser, federated, upstream, citizen_upstream,
                                                              live_bk):
    account_id = _create(browser, federated)
    assert live_sessions(app, account_id) == 1
    [(sid, _level, upstream_sid, ended)] = federated_sessions(app)
    assert upstream_sid and ended is None

    citizen_upstream.logout(upstream.issuer)  # the citizen signs out at the Servicekonto

    assert upstream.admin_get("backchannel") == [{"ok": True, "client": "buergerkonto", "sid": upstream_sid}]
    assert live_sessions(app, account_id) == 0
    assert browser.get("/account").status_code == 302
    assert ("federation:backchannel:logout", {"sessions": 1}) in events(app)
    assert federated_sessions(app)[0][3] is not None


def _logout_claims(upstream, **overrides):
    claims = {"iss": upstream.issuer, "aud": "buergerkonto", "iat": int(time.time()), "jti": uuid.uuid4().hex,
              "events": {BACKCHANNEL_EVENT: {}}, "sub": "erika"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_logout_token_signed_by_the_upstream_is_accepted(app, browser, client, federated, upstream):
    account_id = _create(browser, federated)
    [(_, _, upstream_sid, _)] = federated_sessions(app)
    token = upstream.admin("sign", claims=_logout_claims(upstream, sid=upstream_sid), header={"typ": "logout+jwt"})
    response = client.post("/federation/backchannel-logout", data={"logout_token": token["jwt"]})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert live_sessions(app, account_id) == 0


def _post_logout_token(client, upstream, claims):
    token = upstream.admin("sign", claims=claims, header={"typ": "logout+jwt"})["jwt"]
    return client.post("/federation/backchannel-logout", data={"logout_token": token}), token


def test_a_replayed_logout_token_is_refused_and_ends_nothing(app, browser, client, federated, upstream):
    from buergerkonto.federation.models import UpstreamLogoutToken

    account_id = _create(browser, federated)
    claims = _logout_claims(upstream)
    accepted, token = _post_logout_token(client, upstream, claims)
    assert accepted.status_code == 200
    assert live_sessions(app, account_id) == 0
    # Its id is kept exactly as long as the token passes the age check (iat + maximum age + clock skew).
    with app.app_context():
        assert UpstreamLogoutToken.query.filter_by(jti=claims["jti"]).one().expires_at == claims["iat"] + 300 + 60

    assert federated("erika").status_code == 302  # the citizen signs in again
    replay = client.post("/federation/backchannel-logout", data={"logout_token": token})
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_request"
    assert ("federation:logout_token:invalid", {"reason": "replay"}) in events(app)
    assert live_sessions(app, account_id) == 1


def test_a_logout_token_ends_only_sessions_the_upstream_authenticated_before_its_iat(
        app, browser, client, federated, upstream, citizen_upstream):
    from support.browser import Browser

    now = int(time.time())
    upstream.admin("tamper", claims={"auth_time": now - 600})  # this sign-in's eID use was ten minutes ago
    account_id = _create(browser, federated)
    upstream.admin("tamper", claims=None)
    later = Browser(app.test_client())  # another browser, signed in upstream now
    start = later.get("/federation/start")
    assert later.get(citizen_upstream.authorize(start.headers["Location"], "erika")).status_code == 302
    assert live_sessions(app, account_id) == 2

    # The upstream logged the citizen out two minutes ago; the token comes late (still young enough).
    response, _token = _post_logout_token(client, upstream, _logout_claims(upstream, iat=now - 120))
    assert response.status_code == 200
    assert browser.get("/account").status_code == 302  # authenticated before the logout: ended
    assert later.get("/account").status_code == 200  # authenticated after it: still signed in
    assert live_sessions(app, account_id) == 1


@pytest.mark.parametrize(("overrides", "header", "foreign", "reason"), [
    ({}, {}, True, "signature"),
    ({}, {"kid": "never-published"}, True, "unknown-kid"),
    ({"iss": "http://evil.example"}, {}, False, "invalid_claim:iss"),
    ({"aud": "another-client"}, {}, False, "invalid_claim:aud"),
    ({"nonce": "n"}, {}, False, "invalid_claim:nonce"),
    ({"events": None}, {}, False, "invalid_claim:events"),
    ({"events": {"http://example.org/other": {}}}, {}, False, "invalid_claim:events"),
    ({"sub": None}, {}, False, "missing_claim:sid,sub"),
    ({"jti": None}, {}, False, "missing_claim:jti"),
    ({"jti": "j" * 256}, {}, False, "invalid_claim:jti"),
    ({"iat": 1_000_000_000}, {}, False, "invalid_claim:iat"),
    ({}, {"typ": "JWT"}, False, "typ"),
])
def test_bad_logout_tokens_are_refused_and_end_nothing(app, browser, client, federated, upstream, overrides, header,
                                                       foreign, reason):
    account_id = _create(browser, federated)
    token = upstream.admin("sign", claims=_logout_claims(upstream, **overrides), header=header, foreign=foreign)
    response = client.post("/federation/backchannel-logout", data={"logout_token": token["jwt"]})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert ("federation:logout_token:invalid", {"reason": reason}) in events(app)
    assert live_sessions(app, account_id) == 1


def _unsigned_token(header: dict, claims: dict) -> str:
    """A compact JWS anyone could post: the header and claims as given, a made-up signature."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.c2lnbmF0dXJl"


def _published_kid(upstream) -> str:
    return jws.extract_compact(upstream.admin("sign", claims={})["jwt"].encode()).protected["kid"]


@pytest.mark.parametrize(("header", "reason"), [
    ({"alg": ["RS256"]}, "alg"),
    ({"alg": {"name": "RS256"}}, "alg"),
    ({"kid": ["never-published"]}, "malformed"),
    ({"kid": {"id": "never-published"}}, "malformed"),
    ({"crit": 7}, "malformed"),
], ids=["alg-array", "alg-object", "kid-array", "kid-object", "crit-number"])
def test_logout_tokens_with_wrongly_typed_header_members_are_refused_with_an_oauth_error(
        app, browser, client, federated, upstream, header, reason):
    account_id = _create(browser, federated)
    token = _unsigned_token({"alg": "RS256", "typ": "logout+jwt", "kid": _published_kid(upstream), **header},
                            _logout_claims(upstream))
    response = client.post("/federation/backchannel-logout", data={"logout_token": token})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert ("federation:logout_token:invalid", {"reason": reason}) in events(app)
    assert live_sessions(app, account_id) == 1


def test_logout_endpoint_answers_garbage_with_an_oauth_error(client):
    assert client.post("/federation/backchannel-logout").status_code == 400
    assert client.post("/federation/backchannel-logout", data={"logout_token": "a.b.c"}).status_code == 400
    assert client.post("/federation/backchannel-logout", data={"logout_token": "x" * 20000}).status_code == 400


def test_forged_kids_on_logout_tokens_do_not_refetch_keys_every_time(app, browser, client, federated, upstream):
    from buergerkonto.federation.models import Upstream

    _create(browser, federated)
    with app.app_context():
        fetched = Upstream.query.one().jwks_fetched_at
    for _ in range(3):
        token = upstream.admin("sign", claims=_logout_claims(upstream), header={"kid": uuid.uuid4().hex}, foreign=True)
        assert client.post("/federation/backchannel-logout", data={"logout_token": token["jwt"]}).status_code == 400
    with app.app_context():
        assert Upstream.query.one().jwks_fetched_at == fetched


def test_signing_out_offers_signing_out_upstream_too(app, browser, federated, upstream, citizen_upstream):
    browser.get("/sign-in?lang=en")  # the notice is checked in English; German is the default
    account_id = _create(browser, federated)
    signed_out = browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    assert signed_out.headers["Location"] == "/sign-in"
    page = browser.get("/sign-in")
    offer = browser.soup(page).select_one("form[action='/federation/sign-out-upstream']")
    assert offer is not None
    to_upstream = browser.submit_page(page, {}, selector="form[action='/federation/sign-out-upstream']")
    assert to_upstream.status_code == 302
    assert to_upstream.headers["Location"].startswith(upstream.issuer + "/session/end?id_token_hint=")

    back = citizen_upstream.follow_logout(to_upstream.headers["Location"])
    assert back.startswith("/federation/signed-out?")
    final = browser.get(back)
    assert final.headers["Location"] == "/sign-in"
    assert "You are also signed out of the service account." in browser.get("/sign-in").get_data(as_text=True)
    # The upstream session is gone: the next upstream sign-in asks for the password again.
    start = browser.get("/federation/start")
    login_page = citizen_upstream.http.get(start.headers["Location"], timeout=10)
    assert 'name="password"' in login_page.text
    assert live_sessions(app, account_id) == 0


def test_password_sign_out_offers_no_upstream_logout(browser, signed_in):
    signed_in.post("/sign-out", data={"csrf_token": signed_in.csrf_token("/sign-out")})
    page = signed_in.get("/sign-in")
    assert signed_in.soup(page).select_one("form[action='/federation/sign-out-upstream']") is None


def test_upstream_back_channel_logout_cascades_to_the_portals(app, browser, client, federated, upstream,
                                                              citizen_upstream, live_bk):
    from joserfc import jwt

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients
    from support.relying_party import REDIRECT, LogoutReceiver, RelyingParty

    receiver = LogoutReceiver()
    try:
        _create(browser, federated)
        with app.app_context():
            registration, secret = clients.create_client("Stadt Leer", [REDIRECT],
                                                         backchannel_logout_uri=receiver.url)
            db.session.commit()
            client_id = registration.client_id
        portal = RelyingParty(client, browser, {"client_id": client_id, "client_secret": secret,
                                                "redirect_uri": REDIRECT})
        id_token = portal.id_token(portal.tokens("openid")["id_token"])

        citizen_upstream.logout(upstream.issuer)  # the citizen signs out at the Servicekonto

        [token] = receiver.wait_for(1)
        claims = jwt.decode(token, portal.jwks(), algorithms=["ES256", "RS256"]).claims
        assert claims["sid"] == id_token["sid"] and claims["sub"] == id_token["sub"]
        assert claims["aud"] == client_id and "nonce" not in claims
    finally:
        receiver.stop()
