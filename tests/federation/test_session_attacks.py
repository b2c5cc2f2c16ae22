"""Sessions across the upstream round trip, freshness, CSRF and back-channel logout, seen by an attacker.
Tests that say "found by a review" failed before their fix; the others are regression tests."""

import time
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import pytest

from support.browser import Browser
from support.upstream.harness import UpstreamBrowser
from support.upstream.helpers import federated_sessions, identities, live_sessions

from buergerkonto.federation.tokens import BACKCHANNEL_EVENT

COOKIE = "bk_session"


def _create(browser, federated, login="erika"):
    federated(login)
    assert browser.submit("/federation/new", {}, selector="form[action='/federation/new']").status_code == 302
    return identities(browser.client.application)[-1][2]


# --- found by a review -------------------------------------------------------------------------------------------


def test_a_pending_upstream_sign_in_is_not_usable_with_the_session_cookie_from_before_the_callback(
        app, browser, citizen_upstream):
    """Found by a review (session fixation across the round trip): views.callback/service.hold_pending keep the
    validated upstream identity in the *pre-sign-in* session without giving the browser a new session
    token. Whoever planted (or knows) that cookie can open /federation/new and create a Bürgerkonto linked
    to the victim's eID identity, signed in at level "high" with the victim's verified attributes; the
    victim's later eID sign-ins then land in the attacker's account."""
    attacker = Browser(app.test_client())
    attacker.get("/sign-in")
    fixated = attacker.client.get_cookie(COOKIE).value
    browser.client.set_cookie(COOKIE, fixated)  # planted in the victim's browser
    start = browser.get("/federation/start")
    assert browser.client.get_cookie(COOKIE).value == fixated
    callback = citizen_upstream.authorize(start.headers["Location"], "erika")  # the victim uses the eID
    assert browser.get(callback).headers["Location"] == "/federation/new"

    choice = attacker.get("/federation/new")
    if choice.status_code == 200:  # the attacker sees the victim's name and takes the identity
        attacker.submit_page(choice, {}, selector="form[action='/federation/new']")
    assert attacker.get("/account").status_code == 302, "the attacker is signed in with the victim's eID identity"
    assert "Erika Mustermann" not in choice.get_data(as_text=True)


def test_an_upstream_that_ignores_prompt_login_and_omits_auth_time_does_not_satisfy_prompt_login(
        app, browser, portal, upstream):
    """Found by a review: service.complete takes ``auth_time = claims.get("auth_time") or claims["iat"]``. An upstream
    that answers a prompt=login request from its old session and leaves out auth_time (which was asked
    for as essential) makes the sign-in count as brand new: the portal that demanded a fresh
    authentication gets a code and auth_time = now, though nobody authenticated (README: "an upstream that
    answers from its old session anyway does not satisfy the portal"). A flow that asked for a fresh
    authentication must refuse an ID token without auth_time (or treat it as old)."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    at_upstream = UpstreamBrowser()
    start = browser.get("/federation/start")
    browser.get(at_upstream.authorize(start.headers["Location"], "erika"))
    assert browser.submit("/federation/new", {}, selector="form[action='/federation/new']").status_code == 302
    with app.app_context():
        for record in WebSession.query.filter(WebSession.authenticated_at.isnot(None)):
            record.authenticated_at -= timedelta(minutes=10)
        db.session.commit()

    response = browser.get(portal.authorize_url("openid", prompt="login"))
    assert response.headers["Location"].startswith("/sign-in?")
    next_path = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    upstream_request = browser.get("/federation/start?next=" + quote(next_path, safe="")).headers["Location"]
    parts = urlsplit(upstream_request)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "prompt"}
    assert parse_qs(parts.query)["prompt"] == ["login"]
    ignoring = urlunsplit(parts._replace(query=urlencode(query)))  # the upstream ignores prompt=login ...
    upstream.admin("tamper", claims={"auth_time": None})  # ... and sends no auth_time
    callback = at_upstream.authorize(ignoring, "erika")
    assert callback.startswith("/federation/callback?"), callback  # answered from its session, no login form
    answer = browser.get(callback)
    location = answer.headers.get("Location", "")
    while location.startswith("/authorize"):
        location = browser.get(location).headers.get("Location", "")
    assert "code=" not in location, "the portal got a code for an authentication that did not happen"


def test_a_logout_token_with_an_empty_sid_does_not_end_every_session_of_the_subject(
        app, browser, client, federated, upstream):
    """Found by a review (minor): service.upstream_logout tests ``if claims.get("sid")``, so ``"sid": ""`` falls back
    to logging out by ``sub``: every session of the citizen ends instead of the (non-existent) one the
    token names. tokens.validate_logout_token should refuse an empty sid, or the lookup use ``is not None``."""
    account_id = _create(browser, federated)
    other = Browser(app.test_client())
    start = other.get("/federation/start")
    assert other.get(UpstreamBrowser().authorize(start.headers["Location"], "erika")).status_code == 302
    assert live_sessions(app, account_id) == 2
    claims = {"iss": upstream.issuer, "aud": "buergerkonto", "iat": int(time.time()), "jti": uuid.uuid4().hex,
              "events": {BACKCHANNEL_EVENT: {}}, "sub": "erika", "sid": ""}
    token = upstream.admin("sign", claims=claims, header={"typ": "logout+jwt"})["jwt"]
    client.post("/federation/backchannel-logout", data={"logout_token": token})
    assert live_sessions(app, account_id) == 2


# --- refused today (regression tests) ---------------------------------------------------------------------


def test_a_known_identity_signing_in_gets_a_new_session_token(app, browser, federated):
    _create(browser, federated)
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    browser.get("/sign-in")
    before = browser.client.get_cookie(COOKIE).value
    assert federated("erika").status_code == 302
    assert browser.client.get_cookie(COOKIE).value != before
    old = Browser(app.test_client())
    old.client.set_cookie(COOKIE, before)
    assert old.get("/account").status_code == 302


@pytest.mark.parametrize("path", ["/federation/new", "/federation/link", "/federation/unlink",
                                  "/federation/sign-out-upstream"])
def test_federation_forms_need_the_csrf_token(app, browser, federated, make_account, path):
    from support.plugin import sign_in

    account = make_account()
    federated("erika")
    sign_in(browser, account["email"], account["password"], next_url="/federation/link")
    if path == "/federation/unlink":
        browser.submit("/federation/link", {})
    response = browser.post(path, data={"current_password": account["password"], "identity": "1"})
    if path == "/federation/unlink":
        assert len(identities(app)) == 1
    else:
        assert identities(app) == []
    assert response.status_code in (302, 400)


def test_logout_token_naming_the_sid_of_one_citizen_and_the_sub_of_another_ends_nothing(
        app, browser, client, federated, upstream):
    account_id = _create(browser, federated)
    [(_, _, upstream_sid, _)] = federated_sessions(app)
    claims = {"iss": upstream.issuer, "aud": "buergerkonto", "iat": int(time.time()), "jti": uuid.uuid4().hex,
              "events": {BACKCHANNEL_EVENT: {}}, "sub": "max", "sid": upstream_sid}
    token = upstream.admin("sign", claims=claims, header={"typ": "logout+jwt"})["jwt"]
    assert client.post("/federation/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert live_sessions(app, account_id) == 1


def test_an_id_token_posted_as_a_logout_token_is_refused(app, browser, client, federated, upstream):
    account_id = _create(browser, federated)
    with app.app_context():
        from buergerkonto.federation import service
        from buergerkonto.federation.models import FederatedSession

        id_token = service.id_token_for(FederatedSession.query.one())
    response = client.post("/federation/backchannel-logout", data={"logout_token": id_token})
    assert response.status_code == 400
    assert live_sessions(app, account_id) == 1


def test_a_logout_token_with_an_exp_in_the_past_is_refused(app, browser, client, federated, upstream):
    account_id = _create(browser, federated)
    now = int(time.time())
    claims = {"iss": upstream.issuer, "aud": "buergerkonto", "iat": now - 130, "exp": now - 120,
              "jti": uuid.uuid4().hex, "events": {BACKCHANNEL_EVENT: {}}, "sub": "erika"}
    token = upstream.admin("sign", claims=claims, header={"typ": "logout+jwt"})["jwt"]
    assert client.post("/federation/backchannel-logout", data={"logout_token": token}).status_code == 400
    assert live_sessions(app, account_id) == 1


def test_linking_an_identity_needs_the_password_of_a_session_from_before(app, signed_in, federated):
    """A victim signed in from before; the pending identity in their browser is not linked without the
    password (a stale session cannot be used to attach an attacker's eID identity)."""
    federated("max")
    response = signed_in.post("/federation/link", data={"csrf_token": signed_in.csrf_token("/federation/link")})
    assert response.status_code == 400
    assert identities(app) == []
