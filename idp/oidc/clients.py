"""Registering portals: the one place that decides what a valid client is.

Used by the CLI (and the demo). Redirect URIs are compared exactly later (but
for the port of a native app's loopback URI, ``Client.check_redirect_uri``), so
they are checked strictly here: absolute, no fragment, ``https`` - or
``http`` only for loopback addresses (RFC 8252 §7.3, RFC 9700 §2.1).
"""

import ipaddress
import json
import secrets
import time
from urllib.parse import urlsplit

from .. import events
from ..extensions import db
from ..text import hides_or_reorders
from . import api_scopes, claims
from .models import ACCESS_TOKEN_FORMATS, ID_TOKEN_ALGORITHMS, Client, hash_secret

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
DEFAULT_SCOPE = " ".join(claims.USER_SCOPES)


class ClientInvalid(ValueError):
    """The registration is refused; the message says why."""


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def check_uri(uri: str, what: str) -> str:
    if not uri or len(uri) > 2000 or any(ord(ch) <= 32 for ch in uri):
        raise ClientInvalid(f"{what} is empty, too long or holds spaces: {uri!r}")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ClientInvalid(f"{what} must not have a fragment: {uri}")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return uri
    raise ClientInvalid(f"{what} must use https (http only for loopback addresses): {uri}")


def new_client_id() -> str:
    """128 random bits in hex: never starts with ``-`` (a url-safe base64 id did one time in 64,
    and the CLI then read it as an option), and is safe in URLs, shells and config files."""
    return secrets.token_hex(16)


def create_client(name: str, redirect_uris: list[str], post_logout_redirect_uris=(), backchannel_logout_uri=None,
                  public=False, external=False, token_endpoint_auth_method=None, jwks_uri=None, jwks=None,
                  sector_identifier=None, subject_type="pairwise", id_token_alg="ES256", scope=None,
                  access_token_format="jwt", municipality=None):
    """Create a client; returns (client, secret or None). The secret is shown once, stored hashed.

    ``municipality``: the town or district the portal speaks for; its postbox messages name it as their
    sender's (``sender.municipality`` in the postbox API).

    ``access_token_format`` is how the portal's client-credentials tokens look: ``jwt``
    (RFC 9068, the default) or ``opaque`` (``idp.oidc.access_tokens``).
    """
    name = _display_name(name, "name", required=True)
    if not redirect_uris:
        raise ClientInvalid("At least one redirect URI is needed.")
    redirect_uris = [check_uri(u, "Redirect URI") for u in redirect_uris]
    post_logout_redirect_uris = [check_uri(u, "Post-logout redirect URI") for u in post_logout_redirect_uris]
    if backchannel_logout_uri:
        check_uri(backchannel_logout_uri, "Back-channel logout URI")
    method = token_endpoint_auth_method or ("none" if public else "client_secret_basic")
    if method not in AUTH_METHODS:
        raise ClientInvalid(f"Unknown token endpoint auth method {method!r}.")
    if public != (method == "none"):
        raise ClientInvalid("Public clients (and only they) use the auth method 'none'.")
    if method == "private_key_jwt":
        if not (jwks_uri or jwks):
            raise ClientInvalid("private_key_jwt needs --jwks-uri (or a JWKS).")
        if jwks_uri:
            check_uri(jwks_uri, "JWKS URI")
    if subject_type not in ("pairwise", "public"):
        raise ClientInvalid("The subject type is 'pairwise' or 'public'.")
    if id_token_alg not in ID_TOKEN_ALGORITHMS:
        raise ClientInvalid("The ID token algorithm is ES256 or RS256.")
    _check_format(access_token_format)
    municipality = _display_name(municipality, "municipality")
    hosts = {urlsplit(u).hostname for u in redirect_uris}
    if subject_type == "pairwise" and len(hosts) > 1 and not sector_identifier:
        raise ClientInvalid("Redirect URIs on several hosts need a --sector-identifier.")
    scopes = (scope or " ".join([DEFAULT_SCOPE] + api_scopes.names())).split()
    if "openid" not in scopes:
        scopes.insert(0, "openid")

    grant_types = ["authorization_code", "refresh_token"] + ([] if public else ["client_credentials"])
    metadata = {
        "client_name": name,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris,
        "grant_types": grant_types,
        "response_types": ["code"],
        "scope": " ".join(dict.fromkeys(scopes)),
        "token_endpoint_auth_method": method,
        "id_token_signed_response_alg": id_token_alg,
        "subject_type": subject_type,
        "access_token_format": access_token_format,
    }
    if backchannel_logout_uri:
        metadata["backchannel_logout_uri"] = backchannel_logout_uri
        metadata["backchannel_logout_session_required"] = True
    if jwks_uri:
        metadata["jwks_uri"] = jwks_uri
    if municipality:
        metadata["municipality"] = municipality
    if jwks:
        metadata["jwks"] = jwks if isinstance(jwks, dict) else json.loads(jwks)
    secret = None if method in ("none", "private_key_jwt") else secrets.token_urlsafe(32)
    client = Client(client_id=new_client_id(), name=name, member=not external,
                    sector_identifier=sector_identifier, subject_type=subject_type,
                    client_secret=hash_secret(secret) if secret else None,
                    client_id_issued_at=int(time.time()), client_secret_expires_at=0)
    client.set_client_metadata(metadata)
    db.session.add(client)
    events.record("oidc:client:create", None, client_id=client.client_id, name=name, member=not external)
    return client, secret


def _check_format(access_token_format: str) -> None:
    if access_token_format not in ACCESS_TOKEN_FORMATS:
        raise ClientInvalid("The access token format is 'jwt' or 'opaque'.")


def _display_name(value, what: str, required: bool = False) -> str | None:
    """A portal's name or municipality, as citizens see it beside its messages and on consent pages: one
    line of 1 to 200 characters, nothing hidden or reordering (``text.hides_or_reorders``)."""
    value = (value or "").strip()
    if not value and not required:
        return None
    if not 0 < len(value) <= 200:
        raise ClientInvalid(f"The {what} must have 1 to 200 characters.")
    if hides_or_reorders(value):
        raise ClientInvalid(f"The {what} must be one line without control characters or invisible formatting "
                            "characters (such as bidirectional marks and overrides).")
    return value


def update_client(client_id: str, access_token_format: str | None = None,
                  municipality: str | None = None) -> Client | None:
    """Change a registration: how the portal's next client-credentials tokens look (tokens already
    issued stay valid), the municipality its messages name. ``None`` leaves a setting as it is."""
    if access_token_format is not None:
        _check_format(access_token_format)
    if municipality is not None:
        municipality = _display_name(municipality, "municipality", required=True)
    client = Client.query.filter_by(client_id=client_id).first()
    if client is None:
        return None
    changes = {key: value for key, value in (("access_token_format", access_token_format),
                                             ("municipality", municipality))
               if value is not None and client.client_metadata.get(key) != value}
    if changes:
        client.set_client_metadata(dict(client.client_metadata, **changes))
        events.record("oidc:client:update", None, client_id=client_id, **changes)
    return client


def delete_client(client_id: str) -> bool:
    """Delete a client and everything issued to it.

    Its JWT access tokens die with the registration (``access_tokens.read`` asks for the
    portal). Their revocations stay until ``purge``: a worker that still has the portal in
    its cache for a few seconds must still refuse a revoked one.
    """
    from .models import AuthorizationCode, Consent, LogoutDelivery, PortalSignIn, Token

    client = Client.query.filter_by(client_id=client_id).first()
    if client is None:
        return False
    for model in (Token, AuthorizationCode, Consent, PortalSignIn, LogoutDelivery):
        model.query.filter_by(client_id=client_id).delete()
    db.session.delete(client)
    events.record("oidc:client:delete", None, client_id=client_id)
    return True
