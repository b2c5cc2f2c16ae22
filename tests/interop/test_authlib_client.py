"""Interoperability: Authlib's requests-based OAuth2Session against the app on a real loopback server.

The relying-party side is library code nobody on this project wrote: it builds
the request with PKCE, redeems the code with client_secret_basic, refreshes
and revokes. The ID token is verified with joserfc against the published JWKS,
a portal's own JWT access token with Authlib's RFC 9068 resource-server validator.
"""

import secrets
from urllib.parse import urljoin

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from bs4 import BeautifulSoup
from joserfc import jwt
from joserfc.jwk import KeySet


REDIRECT = "https://portal.example/callback"


def _browser_sign_in(base, email, password) -> requests.Session:
    browser = requests.Session()
    page = browser.get(base + "/sign-in", timeout=10)
    token = BeautifulSoup(page.text, "html.parser").select_one("input[name=csrf_token]")["value"]
    response = browser.post(base + "/sign-in", data={"csrf_token": token, "email": email, "password": password,
                                                     "next": "/account"}, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    return browser


def _follow_to_portal(browser, url) -> str:
    for _ in range(10):
        response = browser.get(url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:300]
        url = urljoin(url, response.headers["Location"])
        if url.startswith(REDIRECT):
            return url
    raise AssertionError("no redirect to the portal")


def test_authlib_client_code_flow_refresh_userinfo_revoke_and_logout(live):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    app, base = live
    with app.app_context():
        client, secret = clients.create_client("Interop", [REDIRECT])
        db.session.commit()
        client_id = client.client_id
    from buergerkonto.idp import accounts

    with app.app_context():
        created = accounts.create_account(f"interop-{secrets.token_hex(4)}@example.org", "Lange-Passphrase-2026",
                                          None, verified=True)
        db.session.commit()
        email = created.email
    meta = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
    browser = _browser_sign_in(base, email, "Lange-Passphrase-2026")

    rp = OAuth2Session(client_id, secret, scope="openid email offline_access", redirect_uri=REDIRECT,
                       code_challenge_method="S256", revocation_endpoint_auth_method="client_secret_basic")
    verifier = generate_token(48)
    nonce = generate_token(16)
    url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    # Offline access needs the citizen's consent: the consent page answers the first request.
    page = browser.get(url, timeout=10)
    soup = BeautifulSoup(page.text, "html.parser")
    form = [f for f in soup.select("form") if f.select_one("input[name=decision][value=allow]")][0]
    data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
    response = browser.post(urljoin(base, form["action"]), data=data, allow_redirects=False, timeout=10)
    callback = _follow_to_portal(browser, urljoin(base, response.headers["Location"]))
    assert f"iss={requests.utils.quote(base, safe='')}" in callback

    token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    jwks = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], jwks, algorithms=meta["id_token_signing_alg_values_supported"]).claims
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": base}, aud={"essential": True, "value": client_id},
                          nonce={"essential": True, "value": nonce}).validate(claims)

    info = rp.get(meta["userinfo_endpoint"], timeout=10).json()
    assert info["sub"] == claims["sub"] and info["email"] == email

    refreshed = rp.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert rp.get(meta["userinfo_endpoint"], timeout=10).status_code == 200

    assert rp.revoke_token(meta["revocation_endpoint"], refreshed["refresh_token"],
                           token_type_hint="refresh_token").status_code == 200
    assert rp.get(meta["userinfo_endpoint"], timeout=10).status_code == 401

    response = browser.get(meta["end_session_endpoint"], params={"id_token_hint": token["id_token"]},
                           allow_redirects=False, timeout=10)
    assert response.status_code == 200
    assert browser.get(base + "/account", allow_redirects=False, timeout=10).status_code == 302


def test_authlib_client_credentials_jwt_access_token_validates_with_authlibs_rfc9068_validator(live):
    """A portal fetches its own token with Authlib's client; a resource server built on Authlib's
    RFC 9068 validator accepts it with nothing but discovery and the JWKS; revoking ends it at once."""
    from authlib.oauth2.rfc9068 import JWTBearerTokenValidator

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    app, base = live
    with app.app_context():
        client, secret = clients.create_client("Interop API caller", [REDIRECT])
        db.session.commit()
        client_id = client.client_id
    meta = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
    api = base + "/api/postbox/v1"

    portal = OAuth2Session(client_id, secret, scope="postbox.send",
                           revocation_endpoint_auth_method="client_secret_basic")
    token = portal.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "postbox.send" and token["expires_in"] == 300

    class ResourceServer(JWTBearerTokenValidator):
        def get_jwks(self):
            return KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())

    validator = ResourceServer(issuer=meta["issuer"], resource_server=api)
    claims = validator.authenticate_token(token["access_token"])
    validator.validate_token(claims, ["postbox.send"], None)
    assert claims.header["typ"] == "at+jwt" and claims["client_id"] == claims["sub"] == client_id
    assert claims["aud"] == api

    # The postbox API takes it (and answers the unknown recipient, not the token).
    response = portal.post(api + "/messages", json={"recipient": "nobody", "subject": "S", "body": "B"}, timeout=10)
    assert response.status_code == 400 and response.json()["errors"][0]["pointer"] == "/recipient", response.text
    assert portal.revoke_token(meta["revocation_endpoint"], token["access_token"],
                               token_type_hint="access_token").status_code == 200
    response = portal.post(api + "/messages", json={"recipient": "nobody", "subject": "S", "body": "B"}, timeout=10)
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_authlib_client_private_key_jwt_with_the_issuer_as_audience(live):
    """Authlib's client signs its assertion for the issuer when told (RFC 10070); its default, the
    token endpoint's URL, is refused."""
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from joserfc.jwk import ECKey

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    app, base = live
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "portal-1"})
    with app.app_context():
        client, _ = clients.create_client("Interop key portal", [REDIRECT], token_endpoint_auth_method="private_key_jwt",
                                          jwks={"keys": [key.as_dict(private=False)]}, access_token_format="opaque")
        db.session.commit()
        client_id = client.client_id
    meta = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()

    def session(auth) -> OAuth2Session:
        portal = OAuth2Session(client_id, key, scope="postbox.send",
                               token_endpoint_auth_method="private_key_jwt")
        portal.register_client_auth_method(auth)
        return portal

    with pytest.raises(OAuthError) as refused:  # the token endpoint's URL as audience, Authlib's default
        session(PrivateKeyJWT(alg="ES256")).fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert refused.value.error == "invalid_client" and "issuer identifier alone" in refused.value.description

    token = session(PrivateKeyJWT(token_endpoint=meta["issuer"], alg="ES256")).fetch_token(
        meta["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "postbox.send"
