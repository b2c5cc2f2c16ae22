"""Fixtures for the postbox: portals that sign citizens in and send, tokens of every kind.

``Portal`` plays a member portal against the app through the test client:
the citizen's token comes from a real authorization code flow (PKCE S256)
in the signed-in ``browser``, the portal's own from the client-credentials
grant; both through the provider's token endpoint.
"""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from support.plugin import sign_in

API = "/api/postbox/v1"


def pdf_bytes(text: str = "Bescheid") -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% " + text.encode() + b"\n%%EOF\n"


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 30


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Portal:
    """One member portal: its registration and what it does at the provider and the postbox."""

    def __init__(self, http, browser, registration):
        self.http = http
        self.browser = browser
        self.client_id = registration["client_id"]
        self.secret = registration["client_secret"]
        self.redirect_uri = registration["redirect_uri"]

    def _basic(self) -> dict:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def token_request(self, data: dict):
        return self.http.post("/oauth/token", data=data, headers=self._basic())

    def citizen_tokens(self, scope="openid postbox.read postbox.manage", **params) -> dict:
        """Run the code flow for the citizen signed in to ``browser``; returns the token response."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                 "scope": scope, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
                 "code_challenge": challenge, "code_challenge_method": "S256"}
        query.update(params)
        response = self.browser.follow(self.browser.get("/authorize?" + urlencode(query)))
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        result = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
        assert "code" in result, result
        token = self.token_request({"grant_type": "authorization_code", "code": result["code"],
                                    "redirect_uri": self.redirect_uri, "code_verifier": verifier})
        assert token.status_code == 200, token.get_json()
        return token.get_json()

    def citizen_token(self, scope="openid postbox.read postbox.manage", **params) -> str:
        return self.citizen_tokens(scope, **params)["access_token"]

    def sub(self) -> str:
        """The pairwise ``sub`` this portal knows for the browser's citizen (from the ID token)."""
        from joserfc import jwt
        from joserfc.jwk import KeySet

        raw = self.citizen_tokens("openid")["id_token"]
        keys = KeySet.import_key_set(self.http.get("/oauth/jwks").get_json())
        return jwt.decode(raw, keys, algorithms=["ES256", "RS256"]).claims["sub"]

    def portal_token(self, scope="postbox.send") -> str:
        response = self.token_request({"grant_type": "client_credentials", "scope": scope})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["access_token"]

    def send(self, token: str, recipient: str, key: str | None = None, **fields):
        body = {"recipient": recipient, "subject": "Ihr Bescheid", "body": "Sehr geehrte Bürgerin, ..."}
        body.update(fields)
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post(f"{API}/messages", json=body, headers=headers)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_portal(app, client, browser):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    def make(name="Stadt Leer", host="portal.example", **options):
        with app.app_context():
            registration, secret = clients.create_client(name, [f"https://{host}/callback"], **options)
            db.session.commit()
            return Portal(client, browser, {"client_id": registration.client_id, "client_secret": secret,
                                            "redirect_uri": f"https://{host}/callback"})

    return make


@pytest.fixture
def citizen(browser, make_account):
    """A browser signed in as a fresh verified account (the account dict is returned)."""
    account = make_account()
    response = sign_in(browser, account["email"], account["password"])
    assert response.status_code == 302
    browser.account = account
    return account


@pytest.fixture
def leer(make_portal):
    return make_portal("Stadt Leer", "leer.example")


@pytest.fixture
def landkreis(make_portal):
    return make_portal("Landkreis Leer", "landkreis-leer.example")


@pytest.fixture
def kit():
    """The helpers above, for test modules (conftest modules are not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(API=API, b64=b64, bearer=bearer, pdf=pdf_bytes, PNG=PNG, JPEG=JPEG)
