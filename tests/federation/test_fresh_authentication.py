"""A new authentication through the Land's service account is a real one, and its time is the upstream's.

A portal that needs a fresh authentication sends ``prompt=login`` or ``max_age`` (OIDC Core §3.1.2.1:
the OP "MUST attempt to actively re-authenticate the End-User"). A citizen who then picks "Mit dem
Servicekonto anmelden" used to be answered from the upstream's own session, without authenticating,
and the portal got ``auth_time`` = now. The upstream is now asked for ``prompt=login``, and a sign-in
through it dates from when the upstream authenticated the citizen.
"""

import time
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from support.upstream.harness import UpstreamBrowser


def _signed_in_through_the_upstream(browser, at_upstream):
    start = browser.get("/federation/start")
    callback = at_upstream.authorize(start.headers["Location"], "erika")
    assert callback.startswith("/federation/callback?"), callback
    browser.get(callback)
    assert browser.submit("/federation/new", {}, selector="form[action='/federation/new']").status_code == 302


def _age_our_sign_in(app, minutes):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        for record in WebSession.query.filter(WebSession.authenticated_at.isnot(None)):
            record.authenticated_at -= timedelta(minutes=minutes)
        db.session.commit()


def _through_the_upstream_again(browser, at_upstream, portal, **params):
    """The portal's request sends the signed-in citizen to sign in; they pick the service account.
    Returns the upstream request and where the callback leads."""
    response = browser.get(portal.authorize_url("openid", **params))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?"), response.headers
    next_path = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    start = browser.get("/federation/start?next=" + quote(next_path, safe=""))
    upstream_request = start.headers["Location"]
    callback = at_upstream.authorize(upstream_request, "erika")
    assert isinstance(callback, str) and callback.startswith("/federation/callback?"), callback
    return upstream_request, browser.get(callback)


def test_a_sign_in_answered_from_the_upstreams_session_dates_from_that_session(app, browser, portal, upstream):
    an_hour_ago = int(time.time()) - 3600
    upstream.admin("tamper", claims={"auth_time": an_hour_ago})  # the upstream's session is an hour old
    _signed_in_through_the_upstream(browser, UpstreamBrowser())
    claims = portal.id_token(portal.tokens()["id_token"])
    assert abs(claims["auth_time"] - an_hour_ago) <= 1


@pytest.mark.parametrize("params", [{"max_age": "300"}, {"prompt": "login"}], ids=["max_age", "prompt_login"])
def test_a_forced_sign_in_asks_the_upstream_to_authenticate_anew(app, browser, portal, params):
    at_upstream = UpstreamBrowser()
    _signed_in_through_the_upstream(browser, at_upstream)
    _age_our_sign_in(app, 10)
    started = int(time.time())
    upstream_request, answer = _through_the_upstream_again(browser, at_upstream, portal, **params)
    assert parse_qs(urlsplit(upstream_request).query)["prompt"] == ["login"]
    claims = portal.id_token(portal.redeem(portal.callback(answer)["code"]).get_json()["id_token"])
    assert claims["auth_time"] >= started


def test_a_forced_sign_in_the_upstream_answers_from_an_old_session_gives_the_portal_no_code(
        app, browser, portal, upstream):
    at_upstream = UpstreamBrowser()
    _signed_in_through_the_upstream(browser, at_upstream)
    _age_our_sign_in(app, 10)
    upstream.admin("tamper", claims={"auth_time": int(time.time()) - 3600})  # it did not authenticate anew
    _upstream_request, answer = _through_the_upstream_again(browser, at_upstream, portal, prompt="login")
    # Not the portal's redirect URI with a code: the citizen is asked to sign in (again).
    location = answer.headers.get("Location", "")
    while location.startswith("/authorize"):
        location = browser.get(location).headers.get("Location", "")
    assert location.startswith("/sign-in?"), location
