"""A portal's side of the OpenID Connect code flow, driven through Flask's test client.

Used by the provider's protocol tests and by every part whose result portals see
in tokens (trust levels, postbox). ID tokens are verified with joserfc against
the published JWKS, as a careful portal would.
"""

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

ISSUER = "http://localhost"
REDIRECT = "https://portal.example/callback"


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class RelyingParty:
    """A portal's side of the code flow, driven through the Flask test client."""

    def __init__(self, client, browser, registration):
        self.http = client
        self.browser = browser
        self.reg = registration
        self.client_id = registration["client_id"]
        self.secret = registration["client_secret"]
        self.redirect_uri = registration["redirect_uri"]
        self.verifier = None
        self.nonce = None
        self.state = None

    def authorize_url(self, scope="openid", **params) -> str:
        self.verifier, challenge = pkce_pair()
        self.nonce = secrets.token_urlsafe(12)
        self.state = secrets.token_urlsafe(12)
        query = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                 "scope": scope, "state": self.state, "nonce": self.nonce, "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        query.update({k: v for k, v in params.items() if v is not None})
        for key in [k for k, v in params.items() if v is None]:
            query.pop(key, None)
        return "/authorize?" + urlencode(query)

    def authorize(self, scope="openid", consent="allow", **params):
        """Run the authorization request in the browser; answers a consent page with ``consent``."""
        response = self.browser.follow(self.browser.get(self.authorize_url(scope, **params)))
        if consent and response.status_code == 200 and self.is_consent_page(response):
            response = self.decide(response, consent)
        return response

    def is_consent_page(self, response) -> bool:
        return self.browser.soup(response).select_one(
            "form[action*='/authorize/decide/'] input[name=decision][value=allow]") is not None

    def decide(self, page, decision: str):
        """Press the button of ``decision`` (allow, deny, return, continue-lower) on a decision page."""
        for form in self.browser.soup(page).select("form[action*='/authorize/decide/']"):
            if form.select_one(f"input[name=decision][value={decision}]") is not None:
                data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
                return self.browser.follow(self.browser.post(form["action"], data=data))
        raise AssertionError(f"no {decision!r} button on the page")

    def callback(self, response) -> dict:
        """The parameters the portal receives at its redirect URI."""
        assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:300])
        location = response.headers["Location"]
        assert location.startswith(self.redirect_uri + "?"), location
        return query_of(location)

    def code(self, scope="openid", **params) -> str:
        result = self.callback(self.authorize(scope, **params))
        assert "code" in result, result
        assert result["iss"] == ISSUER and result["state"] == self.state
        return result["code"]

    def basic_auth(self) -> dict:
        """The ``Authorization`` header of client_secret_basic."""
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def token(self, data: dict, auth=True):
        headers = {}
        if auth and self.secret:
            headers = self.basic_auth()
        elif auth:
            data = dict(data, client_id=self.client_id)
        return self.http.post("/oauth/token", data=data, headers=headers)

    def redeem(self, code: str, **extra):
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "code_verifier": self.verifier}
        data.update(extra)
        return self.token({k: v for k, v in data.items() if v is not None})

    def tokens(self, scope="openid", **params) -> dict:
        response = self.redeem(self.code(scope, **params))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def refresh(self, refresh_token: str, **extra):
        return self.token(dict({"grant_type": "refresh_token", "refresh_token": refresh_token}, **extra))

    def jwks(self) -> KeySet:
        return KeySet.import_key_set(self.http.get("/oauth/jwks").get_json())

    def id_token(self, raw: str, nonce=True) -> dict:
        """Verify signature and standard claims like a careful portal; returns the claims."""
        token = jwt.decode(raw, self.jwks(), algorithms=["ES256", "RS256"])
        assert token.header["kid"] and token.header["alg"] in ("ES256", "RS256")
        options = {"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": self.client_id},
                   "sub": {"essential": True}, "exp": {"essential": True}, "iat": {"essential": True}}
        if nonce:
            options["nonce"] = {"essential": True, "value": self.nonce}
        jwt.JWTClaimsRegistry(**options).validate(token.claims)
        assert token.claims["exp"] > time.time()
        return token.claims

    def userinfo(self, access_token: str, method="GET"):
        call = self.http.get if method == "GET" else self.http.post
        return call("/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})


class LogoutReceiver:
    """A portal's back-channel logout endpoint: a real HTTP server on loopback."""

    def __init__(self, status=200):
        import threading

        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        self.received = []
        self.status = status
        self._event = threading.Condition()

        @Request.application
        def application(request):
            with self._event:
                self.received.append(request.form.get("logout_token"))
                self._event.notify_all()
            return Response("", status=self.status)

        self.server = make_server("127.0.0.1", 0, application, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/backchannel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list:
        """The logout tokens received, once there are ``count`` of them (bounded wait)."""
        with self._event:
            self._event.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        return list(self.received)

    def stop(self):
        self.server.shutdown()
