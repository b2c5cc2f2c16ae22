"""Back-Channel Logout 1.0: logout tokens to every portal the ending session signed into."""

import time

from joserfc import jwt

from support.plugin import sign_in

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _verify(rp, raw):
    token = jwt.decode(raw, rp.jwks(), algorithms=["ES256", "RS256"])
    assert token.header["typ"] == "logout+jwt" and token.header["kid"]
    claims = token.claims
    assert claims["iss"] == "http://localhost" and claims["aud"] == rp.client_id
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims and claims["jti"]
    assert claims["iat"] <= time.time() < claims["exp"] <= claims["iat"] + 300
    return claims


def test_sign_out_sends_logout_tokens_to_every_portal_of_the_session(make_rp, citizen, browser, receiver):
    a = make_rp(name="A", redirect_uris=("https://a.example/cb",), backchannel_logout_uri=receiver.url)
    b = make_rp(name="B", redirect_uris=("https://b.example/cb",), backchannel_logout_uri=receiver.url)
    id_a = a.id_token(a.tokens()["id_token"])
    id_b = b.id_token(b.tokens()["id_token"])
    browser.submit("/sign-out", {})
    assert len(receiver.received) == 2
    tokens = {claims["aud"]: claims for claims in (_verify(rp, raw) for raw, rp in
                                                    zip(receiver.received, _order(receiver, a, b)))}
    assert tokens[a.client_id]["sub"] == id_a["sub"] and tokens[a.client_id]["sid"] == id_a["sid"]
    assert tokens[b.client_id]["sub"] == id_b["sub"] and tokens[b.client_id]["sid"] == id_b["sid"]


def _order(receiver, a, b):
    result = []
    for raw in receiver.received:
        aud = jwt.decode(raw, a.jwks()).claims["aud"]
        result.append(a if aud == a.client_id else b)
    return result


def test_rp_initiated_logout_notifies_portals(make_rp, citizen, browser, receiver):
    from urllib.parse import urlencode

    rp = make_rp(backchannel_logout_uri=receiver.url)
    hint = rp.tokens()["id_token"]
    browser.get("/end-session?" + urlencode({"id_token_hint": hint}))
    assert len(receiver.received) == 1
    _verify(rp, receiver.received[0])


def test_sign_out_everywhere_reaches_portals_of_other_sessions(make_rp, client, browser, make_account, receiver,
                                                                app):
    from support.browser import Browser

    account = make_account()
    rp = make_rp(backchannel_logout_uri=receiver.url)
    other = Browser(app.test_client())
    sign_in(other, account["email"], account["password"])
    rp.browser = other
    rp.tokens()
    sign_in(browser, account["email"], account["password"])
    browser.submit("/account", {}, selector="form[action='/account/sessions/end-all']")
    assert len(receiver.received) == 1


def test_expired_sessions_are_ended_by_the_cli_and_portals_told(make_rp, citizen, receiver, app, runner):
    from datetime import timedelta

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    rp = make_rp(backchannel_logout_uri=receiver.url)
    rp.tokens()
    with app.app_context():
        for record in WebSession.query.filter(WebSession.ended_at.is_(None)):
            record.last_seen_at -= timedelta(hours=2)
        db.session.commit()
    result = runner.invoke(args=["sessions", "expire"])
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert len(receiver.received) == 1


def test_failed_delivery_is_retried_a_bounded_number_of_times(make_rp, citizen, browser, receiver, app, runner):
    from buergerkonto.idp.oidc.models import LogoutDelivery

    receiver.status = 500
    rp = make_rp(backchannel_logout_uri=receiver.url)
    rp.tokens()
    browser.submit("/sign-out", {})
    assert len(receiver.received) == 2  # two attempts in the request
    for _ in range(3):
        runner.invoke(args=["logout", "deliver"])
    with app.app_context():
        row = LogoutDelivery.query.one()
        assert row.delivered_at is None and row.abandoned_at is not None
        assert row.attempts == app.config["OIDC_BACKCHANNEL_MAX_ATTEMPTS"]
    assert len(receiver.received) == app.config["OIDC_BACKCHANNEL_MAX_ATTEMPTS"]
    receiver.status = 200
    runner.invoke(args=["logout", "deliver"])
    assert len(receiver.received) == app.config["OIDC_BACKCHANNEL_MAX_ATTEMPTS"]


def test_portal_without_backchannel_uri_gets_nothing_and_nothing_breaks(rp, citizen, browser, receiver):
    rp.tokens()
    response = browser.submit("/sign-out", {})
    assert response.status_code == 302 and receiver.received == []


def test_account_deletion_notifies_portals(make_rp, citizen, browser, receiver):
    rp = make_rp(backchannel_logout_uri=receiver.url)
    rp.tokens()
    response = browser.submit("/account/delete", {"current_password": citizen["password"], "confirm": "y"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert len(receiver.received) == 1
