"""RFC 9068 JWT access tokens for the client-credentials grant: issued signed, accepted verified.

A portal calling the service's APIs for itself (client credentials: no citizen
involved) may get a signed, stateless JWT access token instead of an opaque one:
nothing is stored, nothing committed, and any instance verifies it with the
published keys. Portals choose per registration (``Client.access_token_format``).
Citizens' tokens (code and refresh grants) stay opaque and stored: they must die
at logout, which a stateless token cannot.

- Issuing: Authlib's ``JWTBearerTokenGenerator`` with header ``typ: at+jwt``, ES256
  with the active signing key (``kid`` in the header), and the claims of RFC 9068
  §2.2: ``iss``, ``exp``, ``iat``, ``aud``, ``sub`` (= ``client_id``), ``client_id``,
  ``jti``, ``scope``. The audience follows from the scopes (``api_scopes``): the
  postbox API for postbox scopes, the provider itself otherwise.
- Accepting (``read``): signature against the published keys (retired ones
  included while tokens they signed may live), ``typ`` at+jwt, ``alg`` ES256,
  ``iss``, ``exp``, an ``aud`` that matches the scopes, ``sub`` = ``client_id``,
  the portal still registered, and not revoked. Anything else reads as no token.
- Revoking: the ``jti`` goes on a short list until the token would have expired
  (``RevokedAccessToken``; ``buergerkonto purge`` drops what is past).

Authlib's ``JWTBearerTokenValidator`` is not used for accepting: it serves one
resource server per instance (here one protector serves the userinfo endpoint and
the postbox API, two audiences), leaves ``typ`` optional and any recommended
``alg`` open, and returns a claims dict where the APIs expect a token record.
Its claims class (``JWTAccessTokenClaims``, with the ``typ`` check) is used.
"""

import base64
import json
import secrets
import time

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims, JWTAccessTokenClaimsValidator
from flask import current_app
from joserfc import jwt
from joserfc.errors import InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from . import api_scopes, keys
from .models import Client, RevokedAccessToken

ALG = "ES256"
TYP = "at+jwt"
TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §4: both name the media type
MAX_LENGTH = 2048  # ours are about 650 characters; anything much longer is not ours
MAX_CLOCK_SKEW = 60  # seconds an ``iat`` may lie ahead (another instance's clock), never ``exp``


def issues_jwt(grant_type: str, client: Client) -> bool:
    """Whether this grant gives ``client`` a JWT access token (only client credentials ever do)."""
    return grant_type == "client_credentials" and client.access_token_format == "jwt"


def audience_for(scope: str | None) -> str:
    """The one resource a token with ``scope`` is for: an API of the service, or the provider itself."""
    return api_scopes.audience_of(scope) or current_app.config["ISSUER"]


def looks_like_jwt(token_string) -> bool:
    """Opaque tokens are URL-safe base64 without dots; a compact JWS has exactly two."""
    return isinstance(token_string, str) and token_string.count(".") == 2


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """Authlib's RFC 9068 generator, with the service's key, audience and lifetime."""

    def __init__(self, issuer: str, lifetime: int):
        super().__init__(issuer, alg=ALG, expires_generator=lambda client, grant_type: lifetime)

    def get_jwks(self):
        # A one-key set: joserfc then writes the key's ``kid`` into the header.
        return KeySet([keys.active_private_key(ALG)])

    def get_audiences(self, client, user, scope):
        return audience_for(scope)

    def get_jti(self, client, grant_type, user, scope):
        # 128 random bits; Authlib's default draws character by character, many times slower.
        return secrets.token_urlsafe(16)


class ReadToken(TokenMixin):
    """What Authlib's validator and the APIs ask of an access token read for a request: this
    JWT, or a stored one read as values (``bearer.StoredAccessToken``). Both carry ``client_id``,
    ``scope``, ``expires_in``, ``client`` and ``account``."""

    def check_client(self, client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def get_client(self) -> Client:
        return self.client

    def get_user(self):
        return self.account


class JwtAccessToken(ReadToken):
    """A verified JWT access token, shaped like the stored ``Token`` where the APIs read it.

    It belongs to a portal acting for itself: no account, no sign-in, no refresh token.
    """

    token_type = "Bearer"
    account_id = account = acr = amr = auth_time = sid = claims_request = None
    refresh_token = grant_id = None

    def __init__(self, claims: dict, client: Client, revoked: bool):
        self.claims = claims
        self.client = client
        self.client_id = claims["client_id"]
        self.jti = claims["jti"]
        self.scope = claims.get("scope") or ""
        self.audience = claims["aud"]
        self.subject = claims["sub"]
        self.issued_at = int(claims["iat"])
        self.expires_at = int(claims["exp"])
        self.expires_in = self.expires_at - self.issued_at
        self.revoked = revoked

    def is_expired(self) -> bool:
        return self.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked


class _ClaimsRegistry(JWTAccessTokenClaimsValidator):
    """``iat`` may be a little ahead (clocks of instances differ); ``exp`` is exact."""

    def validate_iat(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or value > self.now + MAX_CLOCK_SKEW:
            raise InvalidClaimError("iat")


class _Claims(JWTAccessTokenClaims):
    registry_cls = _ClaimsRegistry


def _header(token_string: str) -> dict | None:
    """The protected header, read before any key is looked up (cheap refusals first)."""
    segment = token_string.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError):  # binascii.Error and JSONDecodeError are ValueErrors
        return None
    return header if isinstance(header, dict) else None


def read(token_string) -> JwtAccessToken | None:
    """The verified token, or None for anything that is not a live JWT access token of ours.

    Revoked tokens are returned (``is_revoked()``) so that introspection and the
    resource protector answer them as they answer revoked opaque tokens.
    """
    if not looks_like_jwt(token_string) or len(token_string) > MAX_LENGTH:
        return None
    header = _header(token_string)
    if header is None or header.get("alg") != ALG or not isinstance(header.get("typ"), str) \
            or header["typ"].lower() not in TYPES:
        return None
    key = keys.verification_key(header.get("kid"))
    if key is None:
        return None
    issuer = current_app.config["ISSUER"]
    options = {"iss": {"essential": True, "value": issuer}, "exp": {"essential": True},
               "iat": {"essential": True}, "aud": {"essential": True}, "sub": {"essential": True},
               "client_id": {"essential": True}, "jti": {"essential": True},
               "scope": {"essential": False, "allow_blank": True}}
    try:
        decoded = jwt.decode(token_string, key, algorithms=[ALG])
        claims = _Claims(decoded.claims, decoded.header, options)
        claims.validate()
    except (JoseError, ValueError, TypeError, RecursionError):
        return None
    client_id, scope, jti = claims.get("client_id"), claims.get("scope", ""), claims.get("jti")
    if not (isinstance(client_id, str) and isinstance(scope, str) and isinstance(jti, str) and len(jti) <= 64):
        return None
    if claims["sub"] != client_id or claims["aud"] != audience_for(scope):
        return None
    from .server import server  # here, not at the top: the server module imports this one

    client = server().query_client(client_id)
    if client is None:
        return None
    return JwtAccessToken(dict(claims), client, revoked=is_revoked(jti))


# Built once: on every use of a JWT access token this is the only query (composing it each time cost more).
_REVOKED = select(RevokedAccessToken.id).where(RevokedAccessToken.jti == bindparam("jti")).limit(1)


def is_revoked(jti: str) -> bool:
    return db.session.execute(_REVOKED, {"jti": jti}).first() is not None


def revoke(token: JwtAccessToken) -> bool:
    """Put the token on the revoked list until it would have expired; False if it was there already."""
    if token.revoked:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(RevokedAccessToken(jti=token.jti, client_id=token.client_id,
                                              expires_at=token.expires_at))
    except IntegrityError:  # revoked at the same moment by another request
        return False
    token.revoked = True
    return True
