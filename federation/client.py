"""The relying-party side of the upstream flow, on Authlib's requests client.

Authorization code with PKCE (S256), ``state`` and ``nonce``; the client
authenticates at the token endpoint with its secret (``client_secret_basic``)
or a private key (``private_key_jwt``, RFC 7523). Every call has the short
upstream timeout.
"""

import json

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from flask import current_app, url_for
from joserfc.jwk import ECKey, RSAKey, import_key

from .discovery import UpstreamUnavailable, answer_deadline, http, json_object, read_body, timeout
from .settings import UpstreamSettings


class UpstreamRefused(Exception):
    """The upstream answered the token request with an OAuth error."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


def callback_url() -> str:
    return current_app.config["ISSUER"] + url_for("federation.callback")


def signed_out_url() -> str:
    return current_app.config["ISSUER"] + url_for("federation.signed_out")


def backchannel_logout_url() -> str:
    return current_app.config["ISSUER"] + url_for("federation.backchannel_logout")


def new_flow_secrets() -> dict:
    """Fresh ``state``, ``nonce`` and PKCE ``code_verifier`` for one upstream sign-in."""
    return {"state": generate_token(43), "nonce": generate_token(43), "verifier": generate_token(64)}


def _private_key(text: str):
    text = text.strip()
    if text.startswith("{"):
        return import_key(json.loads(text))
    try:
        return RSAKey.import_key(text)
    except Exception:  # noqa: BLE001 - not RSA: try EC, whose error is the one to report
        return ECKey.import_key(text)


def _session(settings: UpstreamSettings, audience: str | None = None) -> OAuth2Session:
    """Authlib's client for the upstream; ``audience``: what a private_key_jwt assertion is for."""
    common = {"client_id": settings.client_id, "redirect_uri": callback_url(),
              "scope": " ".join(settings.scope_list), "code_challenge_method": "S256"}
    if settings.private_key:
        key = _private_key(settings.private_key)
        alg = "ES256" if key.key_type == "EC" else "RS256"
        session = OAuth2Session(client_secret=key, token_endpoint_auth_method="private_key_jwt", **common)
        # (Authlib puts its ``token_endpoint`` argument into ``aud``.)
        session.register_client_auth_method(
            PrivateKeyJWT(audience, headers={"kid": key.kid} if key.kid else None, alg=alg))
        return session
    return OAuth2Session(client_secret=settings.client_secret, token_endpoint_auth_method="client_secret_basic",
                         **common)


def authorization_url(settings: UpstreamSettings, metadata: dict, flow: dict, acr_values: list[str],
                      locale: str | None, fresh: bool = False) -> str:
    """The upstream's authorization request; ``fresh``: it must authenticate the citizen anew."""
    extra = {"nonce": flow["nonce"]}
    if fresh:
        extra["prompt"] = "login"
    if metadata.get("claims_parameter_supported"):
        # Ask for the authentication methods and time in the ID token (not every upstream sends them unasked).
        extra["claims"] = json.dumps({"id_token": {"amr": None, "auth_time": {"essential": True}}},
                                     separators=(",", ":"))
    if acr_values:
        extra["acr_values"] = " ".join(acr_values)
    if locale:
        extra["ui_locales"] = locale
    url, _state = _session(settings).create_authorization_url(
        metadata["authorization_endpoint"], state=flow["state"], code_verifier=flow["verifier"], **extra)
    return url


def exchange_code(settings: UpstreamSettings, metadata: dict, code: str, verifier: str) -> dict:
    """Redeem the code at the token endpoint; returns the token response."""
    endpoint = metadata["token_endpoint"]
    # The assertion is for the upstream's issuer identifier, not its token endpoint (RFC 10070):
    # another provider that gave that endpoint's URL as its own could use one meant for it there.
    with _session(settings, metadata["issuer"]) as session:
        deadline = answer_deadline()

        def read_within_limits(response):
            # Authlib reads the answer whole; read here first, as ``discovery.http`` does, what
            # arrives in time and up to the size limit (``_content`` is where requests keeps a body).
            response._content = read_body(response, deadline)
            return response

        session.register_compliance_hook("access_token_response", read_within_limits)
        try:
            token = session.fetch_token(endpoint, grant_type="authorization_code", code=code,
                                        code_verifier=verifier, redirect_uri=callback_url(),
                                        timeout=timeout(), allow_redirects=False, stream=True)
        except OAuthError as exc:
            raise UpstreamRefused(str(exc.error)[:60]) from exc
        except requests.Timeout as exc:
            raise UpstreamUnavailable("timeout") from exc
        except requests.RequestException as exc:
            raise UpstreamUnavailable("unreachable") from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # Not a JSON object, or members Authlib's token cannot take (``expires_in`` as a list).
            raise UpstreamUnavailable("token-response") from exc
    if not isinstance(token.get("id_token"), str) or not isinstance(token.get("access_token"), str):
        raise UpstreamUnavailable("token-response")
    return dict(token)


def userinfo(metadata: dict, access_token: str) -> dict:
    """Claims from the userinfo endpoint (when the upstream has one)."""
    endpoint = metadata.get("userinfo_endpoint")
    if not endpoint:
        return {}
    response = http("GET", endpoint, headers={"Authorization": f"Bearer {access_token}",
                                              "Accept": "application/json"})
    if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("application/json"):
        raise UpstreamUnavailable(f"userinfo-{response.status_code}")
    return json_object(response, "userinfo-invalid")


def end_session_url(metadata: dict, settings: UpstreamSettings, id_token: str | None, state: str) -> str | None:
    """RP-initiated logout at the upstream (OIDC RP-Initiated Logout 1.0), if it offers it."""
    from authlib.common.urls import add_params_to_uri

    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    params = [("client_id", settings.client_id), ("post_logout_redirect_uri", signed_out_url()), ("state", state)]
    if id_token:
        params.insert(0, ("id_token_hint", id_token))
    return add_params_to_uri(endpoint, params)
