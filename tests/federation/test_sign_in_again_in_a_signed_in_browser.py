"""Signing in with the upstream in a browser already signed in as the same person (through the upstream,
or with the password): the session keeps its record and ``sid`` (portals stay signed in), and what it
knows of the upstream is the new sign-in's: level, the upstream's amr, sid and auth_time."""

import json
import time
from datetime import UTC, datetime

import pytest

from support.plugin import sign_in
from support.upstream.harness import UpstreamBrowser
from support.upstream.helpers import hook, identities, live_session, live_sessions, session_record

HIGH = "http://eidas.europa.eu/LoA/high"
LOW = "http://eidas.europa.eu/LoA/low"
# What the upstream says when the citizen uses the eID this time (lena's own sign-in is a password's, low).
WITH_THE_EID = {"acr": HIGH, "amr": ["hwk", "pin"]}


def _create(app, browser, federated, login) -> int:
    federated(login)
    assert browser.submit("/federation/new", {}, selector="form[action='/federation/new']").status_code == 302
    [(_, _, account_id, _)] = identities(app)
    return account_id


def _upstream_sessions(app) -> list[dict]:
    from buergerkonto.federation.models import FederatedSession

    with app.app_context():
        return [{"sid": f.sid, "level": f.level, "acr": f.acr, "amr": f.amr, "upstream_sid": f.upstream_sid,
                 "upstream_auth_time": f.upstream_auth_time, "ended_at": f.ended_at}
                for f in FederatedSession.query.order_by(FederatedSession.id)]


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def test_signing_in_upstream_again_replaces_what_the_session_knows_of_the_upstream(
        app, browser, federated, upstream, live_bk):
    an_hour_ago = int(time.time()) - 3600
    upstream.admin("tamper", claims={"auth_time": an_hour_ago})
    account_id = _create(app, browser, federated, "lena")
    [first] = _upstream_sessions(app)
    assert first["level"] == "low" and first["upstream_auth_time"] == _utc(an_hour_ago)

    # The citizen signs in at the upstream anew (another upstream session), this time with the eID.
    upstream.admin("tamper", claims=WITH_THE_EID)
    with_the_eid = UpstreamBrowser()
    start = browser.get("/federation/start")
    again = browser.get(with_the_eid.authorize(start.headers["Location"], "lena"))
    assert again.status_code == 302, again.get_data(as_text=True)[:500]

    [now] = _upstream_sessions(app)
    assert now["sid"] == first["sid"] == live_session(app, account_id)["sid"]
    assert (now["level"], now["acr"], now["amr"], now["ended_at"]) == ("high", HIGH, ["hwk", "pin"], None)
    assert now["upstream_sid"] and now["upstream_sid"] != first["upstream_sid"]
    assert now["upstream_auth_time"] > first["upstream_auth_time"]
    assert hook(app, "session_level", session_record(now["sid"])) == ["high"]

    with_the_eid.logout(upstream.issuer)  # the upstream session of the new sign-in ends
    assert upstream.admin_get("backchannel") == [{"ok": True, "client": "buergerkonto", "sid": now["upstream_sid"]}]
    assert live_sessions(app, account_id) == 0


def test_the_step_up_pages_upstream_way_after_a_low_upstream_sign_in_brings_the_portal_the_new_level(
        app, browser, federated, upstream, citizen_upstream, portal):
    account_id = _create(app, browser, federated, "lena")
    sid = live_session(app, account_id)["sid"]
    step_up = portal.authorize("openid", claims=json.dumps({"id_token": {"acr": {"essential": True,
                                                                                 "values": [HIGH]}}}))
    assert step_up.status_code == 200
    start = browser.get(browser.soup(step_up).select_one("#step-up-state-account a")["href"])

    upstream.admin("tamper", claims=WITH_THE_EID)
    back = browser.get(citizen_upstream.authorize(start.headers["Location"], "lena"))
    assert back.status_code == 302, back.get_data(as_text=True)[:500]
    id_token = portal.id_token(portal.redeem(portal.callback(browser.follow(back))["code"]).get_json()["id_token"])
    assert (id_token["acr"], id_token["amr"]) == (HIGH, ["fed"])
    assert live_session(app, account_id)["sid"] == sid
    assert [(row["sid"], row["level"]) for row in _upstream_sessions(app)] == [(sid, "high")]


@pytest.mark.parametrize("signed_in_upstream_before", [False, True], ids=["password-only", "upstream-then-password"])
def test_a_password_session_signed_in_with_the_upstream_gets_the_upstreams_level(
        app, browser, federated, make_account, portal, signed_in_upstream_before):
    account = make_account()
    federated("erika")  # link the eID identity (the link signs this session in through the upstream)
    sign_in(browser, account["email"], account["password"], next_url="/federation/link")
    assert browser.submit("/federation/link", {}).status_code == 302
    if signed_in_upstream_before:
        # A portal asks for a fresh sign-in (prompt=login), answered with the password: same session, same sid.
        asked = browser.get(portal.authorize_url("openid", prompt="login"))
        browser.follow(browser.submit(asked.headers["Location"], {"email": account["email"],
                                                                  "password": account["password"]}))
    else:
        browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
        sign_in(browser, account["email"], account["password"])
    by_password = portal.id_token(portal.tokens("openid")["id_token"])
    assert (by_password["acr"], by_password["amr"]) == (LOW, ["pwd"])

    assert federated("erika").status_code == 302  # the same person, through the upstream in the same browser
    id_token = portal.id_token(portal.tokens("openid")["id_token"])
    assert (id_token["acr"], id_token["amr"], id_token["sid"]) == (HIGH, ["fed"], by_password["sid"])
    session = live_session(app, account["id"])
    assert hook(app, "session_level", session_record(session["sid"])) == ["high"]
    assert [(row["sid"], row["level"]) for row in _upstream_sessions(app)
            if row["ended_at"] is None] == [(session["sid"], "high")]
