"""Back-Channel Logout 1.0: logout tokens to every portal the ending session signed into."""

import time

import pytest

from joserfc import jwt

from support.plugin import sign_in
from support.relying_party import REDIRECT

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


class StallingPortal:
    """A portal's back-channel endpoint that takes its time: it reads the request, then sends
    ``answer`` in small pieces, one every ``interval`` seconds (well inside any per-read timeout),
    until the test releases it."""

    def __init__(self, answer: bytes, piece: int = 1, interval: float = 0.2):
        import socket
        import threading

        self.answer, self.piece, self.interval = answer, piece, interval
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/backchannel"
        self.released = threading.Event()
        self.connections = 0
        self.sending = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        while not self.released.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection):
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            self.sending += 1
            try:
                for start in range(0, len(self.answer), self.piece):
                    if self.released.wait(self.interval):
                        break
                    connection.sendall(self.answer[start:start + self.piece])
            except OSError:  # the provider closed the connection
                pass
            finally:
                self.sending -= 1

    def release(self):
        self.released.set()
        self.server.close()


@pytest.fixture
def stalling():
    portals = []

    def make(answer: bytes, **options) -> StallingPortal:
        portals.append(StallingPortal(answer, **options))
        return portals[-1]

    yield make
    for portal in portals:
        portal.release()


def _delivery(app):
    from buergerkonto.idp.oidc.models import LogoutDelivery

    with app.app_context():
        return LogoutDelivery.query.order_by(LogoutDelivery.id.desc()).first()


def test_a_portal_answering_a_byte_at_a_time_does_not_hold_up_the_sign_out(make_rp, citizen, browser, app,
                                                                             stalling):
    from buergerkonto.idp.oidc.logout import STILL_SENDING

    app.config["OIDC_BACKCHANNEL_TIMEOUT"] = 1
    portal = stalling(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000 + b"\r\n\r\n")
    rp = make_rp(backchannel_logout_uri=portal.url)
    rp.tokens()
    response = browser.submit("/sign-out", {})
    assert response.status_code == 302
    assert portal.sending == 1  # the answer came while the portal was still at its status line
    row = _delivery(app)
    assert row.delivered_at is None and row.abandoned_at is None and row.last_error == STILL_SENDING


def test_an_endless_answer_body_is_not_read(make_rp, citizen, browser, app, stalling):
    portal = stalling(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n" + b"x" * 10_000_000,
                      piece=65536, interval=0.01)
    rp = make_rp(backchannel_logout_uri=portal.url)
    rp.tokens()
    assert browser.submit("/sign-out", {}).status_code == 302
    row = _delivery(app)
    assert row.delivered_at is not None and row.last_error is None  # a 200 is a 200


def test_a_stalling_portal_gets_no_more_than_its_share_of_threads(make_rp, citizen, browser, app, stalling,
                                                                  monkeypatch):
    from buergerkonto.idp.oidc import logout

    monkeypatch.setattr(logout, "MAX_IN_FLIGHT", 1)
    app.config["OIDC_BACKCHANNEL_TIMEOUT"] = 1
    portal = stalling(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000 + b"\r\n\r\n")
    rp = make_rp(backchannel_logout_uri=portal.url)
    rp.tokens()
    browser.submit("/sign-out", {})  # its delivery is still under way
    sign_in(browser, citizen["email"], citizen["password"])
    rp.tokens()
    assert browser.submit("/sign-out", {}).status_code == 302
    assert portal.connections == 1
    row = _delivery(app)
    assert row.last_error == logout.PORTAL_BUSY and row.attempts == 0  # left for 'logout deliver'


# A code issued a moment before the sign-out (the portal's callback still on its way, or held by
# someone) is dropped with the session: redeemed after it, it would give an access token that
# outlives the sign-in, and an ID token of a sid whose logout the portal has already been sent.

def _sign_out(browser):
    page = browser.get("/sign-out")
    assert browser.submit_page(page, {}, url="/sign-out").status_code == 302
    assert browser.get("/account").status_code != 200


def test_a_code_issued_before_sign_out_is_refused_after_it(rp, citizen, browser):
    code = rp.code("openid email")
    _sign_out(browser)
    response = rp.redeem(code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_a_portal_told_of_the_logout_gets_no_session_from_an_earlier_code(make_rp, citizen, browser, receiver):
    rp = make_rp(backchannel_logout_uri=receiver.url, redirect_uris=(REDIRECT,))
    code = rp.code("openid")
    _sign_out(browser)
    assert len(receiver.wait_for(1)) == 1  # the portal is told before it has a session
    assert rp.redeem(code).status_code == 400
