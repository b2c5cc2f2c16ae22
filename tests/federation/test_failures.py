"""Whatever goes wrong upstream: refused, logged as a security event, nothing created, linked or signed in."""

import pytest

from support.upstream.harness import query_of
from support.upstream.helpers import account_count, events, federated_sessions, identities


def _refused_cleanly(app, browser, response, reason_prefix, status=400):
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    assert account_count(app) == 0
    assert identities(app) == []
    assert federated_sessions(app) == []
    assert browser.get("/account").status_code == 302  # not signed in
    reasons = [details["reason"] for tag, details in events(app) if tag == "federation:signin:refused"]
    assert any(reason.startswith(reason_prefix) for reason in reasons), reasons


def _start(browser):
    start = browser.get("/federation/start")
    assert start.status_code == 302
    return start.headers["Location"]


def test_id_token_signed_with_a_foreign_key_is_refused(app, browser, federated, upstream):
    upstream.admin("foreign-key")
    _refused_cleanly(app, browser, federated("erika"), "id-token:signature")


@pytest.mark.parametrize(("claims", "reason"), [
    ({"iss": "http://127.0.0.1:1/other-issuer"}, "id-token:invalid_claim:iss"),
    ({"aud": "some-other-client"}, "id-token:invalid_claim:aud"),
    ({"aud": ["buergerkonto", "some-other-client"], "azp": "some-other-client"}, "id-token:invalid_claim:azp"),
    ({"nonce": "a-nonce-from-another-flow"}, "id-token:invalid_claim:nonce"),
    ({"nonce": None}, "id-token:missing_claim:nonce"),
    ({"exp": 1_000_000_000}, "id-token:expired_token"),
    ({"auth_time": 4_000_000_000}, "id-token:invalid_claim:auth_time"),
    ({"acr": ["http://eidas.europa.eu/LoA/high"]}, "id-token:invalid_claim:acr"),
    ({"sub": None}, "id-token:missing_claim:sub"),
])
def test_id_token_with_wrong_claims_is_refused(app, browser, federated, upstream, claims, reason):
    upstream.admin("tamper", claims=claims)
    _refused_cleanly(app, browser, federated("erika"), reason)


def test_replayed_state_is_refused(app, browser, federated):
    first = federated("erika")
    assert first.status_code == 302
    replay = browser.get(federated.callback)
    assert replay.status_code == 400
    reasons = [details["reason"] for tag, details in events(app) if tag == "federation:signin:refused"]
    assert reasons == ["state"]
    assert account_count(app) == 0


def test_callback_for_a_flow_started_in_another_browser_is_refused(app, browser, client, upstream,
                                                                    citizen_upstream):
    from support.browser import Browser

    victim = Browser(app.test_client())
    callback = citizen_upstream.authorize(_start(browser), "erika")
    _refused_cleanly(app, victim, victim.get(callback), "state")


def test_wrong_iss_in_the_authorization_response_is_refused(app, browser, citizen_upstream, upstream):
    callback = citizen_upstream.authorize(_start(browser), "erika")
    forged = callback.replace("iss=" + requests_quote(upstream.issuer), "iss=" + requests_quote("http://evil.example"))
    assert forged != callback
    _refused_cleanly(app, browser, browser.get(forged), "iss-parameter")


def test_missing_iss_is_refused_when_the_upstream_announces_it(app, browser, citizen_upstream):
    callback = citizen_upstream.authorize(_start(browser), "erika")
    params = query_of(callback)
    stripped = f"/federation/callback?code={params['code']}&state={params['state']}"
    _refused_cleanly(app, browser, browser.get(stripped), "iss-parameter")


def test_error_response_from_the_upstream_is_refused(app, browser, federated):
    browser.get("/?lang=en")  # the wording is checked in English; German is the default
    response = federated("erika", abort=True)
    _refused_cleanly(app, browser, response, "error:access_denied", status=401)
    assert "The sign-in at the service account was cancelled." in response.get_data(as_text=True)


def test_code_rejected_at_the_token_endpoint_is_refused(app, browser, citizen_upstream):
    callback = citizen_upstream.authorize(_start(browser), "erika")
    params = query_of(callback)
    forged = callback.replace(params["code"], "forged-code")
    _refused_cleanly(app, browser, browser.get(forged), "token-error:invalid_grant", status=502)


def test_callback_without_any_flow_is_refused(app, browser):
    _refused_cleanly(app, browser, browser.get("/federation/callback?code=x&state=y"), "state")
    _refused_cleanly(app, browser, browser.get("/federation/callback"), "state")


def requests_quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


# --- an upstream that cannot be reached or does not answer in time ------------------------------------


def _unavailable(app, response, reason):
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert 'id="local-sign-in"' in page
    assert ("federation:upstream:unavailable", {"reason": reason}) in events(app)
    assert account_count(app) == 0 and identities(app) == []


def test_unreachable_upstream_shows_a_clear_page_and_local_sign_in_still_works(make_app, make_account):
    from support.browser import Browser
    from support.plugin import sign_in
    from support.servers import free_port

    app = make_app(UPSTREAM_ISSUER=f"http://127.0.0.1:{free_port()}")
    browser = Browser(app.test_client())
    _unavailable(app, browser.get("/federation/start"), "unreachable")
    account = make_account()
    assert sign_in(browser, account["email"], account["password"]).headers["Location"] == "/account"


def test_slow_upstream_at_discovery_shows_a_clear_page(app, browser, upstream, make_account):
    from support.plugin import sign_in

    upstream.admin("delay", ms=4000)
    _unavailable(app, browser.get("/federation/start"), "timeout")
    account = make_account()
    assert sign_in(browser, account["email"], account["password"]).headers["Location"] == "/account"


def test_slow_token_endpoint_shows_a_clear_page_and_signs_nobody_in(app, browser, upstream, citizen_upstream):
    callback = citizen_upstream.authorize(_start(browser), "erika")
    upstream.admin("delay", ms=4000)
    _unavailable(app, browser.get(callback), "timeout")
    assert browser.get("/account").status_code == 302


@pytest.fixture
def userinfo_answering(endpoint_answering):
    """``userinfo_answering(body)``: the upstream's userinfo endpoint answers 200 with ``body``."""
    return lambda body: endpoint_answering("userinfo_endpoint", body)


@pytest.mark.parametrize("body", [b"<html>Wartungsarbeiten</html>", b'{"sub": "erika", "given_na', b"\xff\xfe\x00",
                                  b'["erika"]'], ids=["html", "cut-off", "not-text", "an-array"])
def test_userinfo_that_is_not_a_json_object_shows_a_clear_page_and_signs_nobody_in(app, browser, citizen_upstream,
                                                                                  userinfo_answering, body):
    authorization = _start(browser)  # caches the upstream's metadata
    userinfo_answering(body)
    callback = citizen_upstream.authorize(authorization, "erika")
    _unavailable(app, browser.get(callback), "userinfo-invalid")
    assert federated_sessions(app) == []
    assert browser.get("/account").status_code == 302


def test_federation_pages_are_absent_without_an_upstream(make_app):
    app = make_app(UPSTREAM_ISSUER=None)
    client = app.test_client()
    assert client.get("/federation/start").status_code == 404
    assert 'id="federation-sign-in"' not in client.get("/sign-in").get_data(as_text=True)


def test_an_oversized_userinfo_answer_is_refused_unread(app, browser, citizen_upstream, userinfo_answering):
    from buergerkonto.federation.discovery import MAX_ANSWER_BYTES

    authorization = _start(browser)
    userinfo_answering(b'{"sub": "erika", "junk": "' + b"A" * (MAX_ANSWER_BYTES + 1) + b'"}')
    callback = citizen_upstream.authorize(authorization, "erika")
    _unavailable(app, browser.get(callback), "answer-too-large")
    assert federated_sessions(app) == []


class _DrippingServer:
    """An endpoint that answers 200 and then its body a byte a second: inside any per-read timeout."""

    def __init__(self, seconds: int = 20):
        import socket
        import threading

        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/userinfo"
        self.dripping = False
        self.done = threading.Event()

        def serve():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: %d\r\n\r\n{" % (seconds + 2))
                self.dripping = True
                try:
                    for _ in range(seconds):
                        if self.done.wait(1.0):
                            return
                        connection.sendall(b" ")
                    connection.sendall(b"}")
                except OSError:
                    pass
                finally:
                    self.dripping = False

        threading.Thread(target=serve, daemon=True).start()

    def close(self):
        self.done.set()
        self.socket.close()


def test_a_dripping_userinfo_answer_ends_in_a_clear_page_while_it_still_drips(app, browser, citizen_upstream):
    from buergerkonto.federation.models import Upstream
    from buergerkonto.idp.extensions import db

    authorization = _start(browser)
    server = _DrippingServer()
    try:
        with app.app_context():
            row = Upstream.query.one()
            row.server_metadata = {**row.server_metadata, "userinfo_endpoint": server.url}
            db.session.commit()
        callback = citizen_upstream.authorize(authorization, "erika")
        response = browser.get(callback)
        assert server.dripping  # the answer came while the upstream was still sending
        _unavailable(app, response, "timeout")
    finally:
        server.close()


def test_a_key_the_upstream_withdrew_is_not_trusted_past_the_cache_time(app, federated, upstream):
    """Every token naming a cached ``kid`` used to keep a withdrawn key trusted for ever."""
    import time
    from datetime import timedelta

    from joserfc import jwt
    from joserfc.jwk import RSAKey

    from buergerkonto.federation import settings, tokens
    from buergerkonto.federation.models import Upstream
    from buergerkonto.idp.extensions import db

    federated("erika")  # caches the metadata and keys
    withdrawn = RSAKey.generate_key(2048, parameters={"kid": "withdrawn-2025", "alg": "RS256", "use": "sig"})
    now = int(time.time())
    token = jwt.encode({"alg": "RS256", "kid": "withdrawn-2025"},
                       {"iss": upstream.issuer, "aud": "buergerkonto", "sub": "otto", "exp": now + 300, "iat": now,
                        "nonce": "n", "acr": "http://eidas.europa.eu/LoA/high"}, withdrawn)
    with app.test_request_context():
        row = Upstream.query.one()
        row.jwks = {"keys": row.jwks["keys"] + [withdrawn.as_dict(private=False)]}
        row.jwks_fetched_at -= timedelta(seconds=app.config["UPSTREAM_JWKS_TTL"] + 1)
        db.session.commit()
        with pytest.raises(tokens.TokenRejected, match="unknown-kid"):
            tokens.validate_id_token(settings.require(), token, "n")
        db.session.commit()
        assert "withdrawn-2025" not in {key["kid"] for key in Upstream.query.one().jwks["keys"]}


def test_forged_kids_while_the_upstream_is_slow_cost_one_fetch(app, client, federated, upstream):
    import time
    import uuid
    from datetime import timedelta

    from buergerkonto.federation.models import Upstream
    from buergerkonto.federation.tokens import BACKCHANNEL_EVENT
    from buergerkonto.idp.extensions import db

    federated("erika")
    with app.app_context():
        row = Upstream.query.one()
        row.jwks_fetched_at -= timedelta(seconds=120)  # past the refetch interval, within the cache time
        db.session.commit()
    answers = []
    for _ in range(4):
        claims = {"iss": upstream.issuer, "aud": "buergerkonto", "iat": int(time.time()), "jti": uuid.uuid4().hex,
                  "events": {BACKCHANNEL_EVENT: {}}, "sub": "erika"}
        upstream.admin("delay", ms=0)
        token = upstream.admin("sign", claims=claims, header={"kid": uuid.uuid4().hex}, foreign=True)["jwt"]
        upstream.admin("delay", ms=4000)
        answers.append(client.post("/federation/backchannel-logout", data={"logout_token": token}).status_code)
    upstream.admin("delay", ms=0)
    unavailable = [e for e in events(app) if e[0] == "federation:upstream:unavailable"]
    assert len(unavailable) == 1, (answers, unavailable)  # the first one tried; the others did not
    assert answers[1:] == [400, 400, 400]


def test_an_oversized_token_response_shows_a_clear_page_and_signs_nobody_in(app, browser, upstream, citizen_upstream):
    from buergerkonto.federation.discovery import MAX_ANSWER_BYTES

    callback = citizen_upstream.authorize(_start(browser), "erika")
    upstream.admin("pad", bytes=MAX_ANSWER_BYTES + 1)
    _unavailable(app, browser.get(callback), "answer-too-large")
    assert federated_sessions(app) == []


def test_visits_to_the_start_address_do_not_each_refresh_stale_metadata(app, browser, upstream, monkeypatch):
    """Anyone can open /federation/start. With the cached metadata stale and the upstream unreachable,
    every visit tried a discovery fetch (each may hold a worker for twice the timeout); now one a while
    goes out, and the stale copy serves the visits (found by a review)."""
    from datetime import timedelta

    from buergerkonto.federation import discovery
    from buergerkonto.federation.models import Upstream
    from buergerkonto.idp.extensions import db

    _start(browser)  # caches the upstream's metadata
    with app.app_context():
        row = Upstream.query.one()
        row.metadata_fetched_at -= timedelta(days=2)
        db.session.commit()
    fetches = []

    def unreachable(url):
        fetches.append(url)
        raise discovery.UpstreamUnavailable("unreachable")

    monkeypatch.setattr(discovery, "_get_json", unreachable)
    for _ in range(5):
        assert browser.get("/federation/start").status_code == 302
    assert len(fetches) <= 1, fetches
