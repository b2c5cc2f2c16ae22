"""Records of the OpenID Connect provider: clients, codes, tokens, keys, consents, sign-ins.

The client, code and token models build on Authlib's SQLAlchemy mixins; what
the mixins get wrong for this service is overridden here (STYLE.md, "Authlib
1.9 facts"): client secrets, codes and tokens are stored as hashes only, a
code lives 60 s from its issue (not from the sign-in), and every token knows
the grant ("family") it belongs to, so a replayed code or refresh token can
revoke everything that grant produced.
"""

import hmac
import ipaddress
import re
import time
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from authlib.integrations.sqla_oauth2 import (OAuth2AuthorizationCodeMixin, OAuth2ClientMixin,
                                              OAuth2TokenMixin)
from sqlalchemy import Boolean, ForeignKey, Index, Integer, JSON, String, Text, UniqueConstraint, bindparam, select
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from ..crypto import keyed_hash, sha256_hex
from ..extensions import GrowingId, db
from ..models import Account
from ..timeutil import utcnow

CODE_LIFETIME = 60
SECRET_PURPOSE = "oidc-client-secret"
ID_TOKEN_ALGORITHMS = ("ES256", "RS256")
# How a portal's client-credentials access tokens look (``Client.access_token_format``).
ACCESS_TOKEN_FORMATS = ("jwt", "opaque")


def hash_secret(secret: str) -> str:
    """A client secret as stored: HMAC-SHA256 under a key derived from the service secret.

    Secrets are 256-bit random values, so a fast keyed hash is as strong as a
    slow password hash here, and client authentication stays cheap under load.
    """
    return "hmac-sha256$" + keyed_hash(secret, SECRET_PURPOSE)


def hash_token(value: str) -> str:
    """Codes and tokens are high-entropy random strings: their SHA-256 is stored, never the value."""
    return sha256_hex(value)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client(db.Model, OAuth2ClientMixin):
    """A portal (relying party). Metadata in the Authlib JSON column, policy in columns."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Member portals of the network skip the consent page (except for offline access).
    member: Mapped[bool] = mapped_column(Boolean, default=True)
    sector_identifier: Mapped[str | None] = mapped_column(String(255))
    subject_type: Mapped[str] = mapped_column(String(16), default="pairwise")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def id_token_signed_response_alg(self) -> str:
        """ES256 unless the portal registered RS256; never ``none`` (STYLE.md trap 2)."""
        alg = self.client_metadata.get("id_token_signed_response_alg")
        return alg if alg in ID_TOKEN_ALGORITHMS else "ES256"

    @property
    def access_token_format(self) -> str:
        """``jwt`` (RFC 9068, signed and not stored) or ``opaque`` for the portal's client-credentials tokens.

        New registrations say ``jwt``; portals registered before the setting existed keep ``opaque``.
        Citizens' tokens are always opaque and stored, whatever this says (they must die at logout).
        """
        value = self.client_metadata.get("access_token_format")
        return value if value in ACCESS_TOKEN_FORMATS else "opaque"

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        return self.client_metadata.get("post_logout_redirect_uris", [])

    @property
    def backchannel_logout_uri(self) -> str | None:
        return self.client_metadata.get("backchannel_logout_uri")

    @property
    def sector(self) -> str:
        """Pairwise subjects are computed per sector: the configured one, else the redirect URI's host,
        else (no such URI, or a loopback host) the portal itself.

        Every native app redirects to the loopback address of the device it runs on (RFC 8252 §7.3):
        as a sector, "127.0.0.1" made the apps of all operators one sector, and unrelated apps saw the
        same ``sub`` and ``sid`` for a citizen and could join their records on them. Apps of one
        operator that are to share subjects say so with a sector identifier.
        """
        if self.sector_identifier:
            return self.sector_identifier
        host = urlsplit(self.redirect_uris[0]).hostname if self.redirect_uris else None
        return self.client_id if host is None or _is_loopback(host) else host

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.client_secret or not client_secret or len(client_secret) > 512:
            return False
        return hmac.compare_digest(self.client_secret, hash_secret(client_secret))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string comparison against the registered URIs (RFC 9700 §4.1.3), except the port
        of a native app's loopback URI.

        A native app (a public client) listens on whatever port the system gives it at the moment
        (RFC 8252 §7.3): for a registered ``http`` URI on a loopback IP literal any port matches,
        everything else exactly. Not ``localhost``: a name can resolve elsewhere (RFC 8252 §8.3).
        The code stays bound to the exact URI used here (Authlib compares it at the token endpoint).
        """
        if redirect_uri in self.redirect_uris:
            return True
        if not self.is_public or not isinstance(redirect_uri, str):
            return False
        requested = _loopback_without_port(redirect_uri)
        return requested is not None and any(
            _loopback_without_port(registered) == requested for registered in self.redirect_uris)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """A client authenticates the way it registered, at every endpoint."""
        return method == self.token_endpoint_auth_method


LOOPBACK_SCHEME = "http://"
_LOOPBACK_AUTHORITY = re.compile(r"(127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?")


def _loopback_without_port(uri: str) -> tuple[str, str] | None:
    """(host, everything after the authority) of an ``http`` URI on a loopback IP literal with a
    valid port or none; ``None`` for every other URI. Read from the raw string, so that the rest
    compares exactly (no normalising of case or escapes)."""
    if not uri.startswith(LOOPBACK_SCHEME):
        return None
    rest = uri[len(LOOPBACK_SCHEME):]
    end = min([i for i in (rest.find(ch) for ch in "/?#") if i >= 0] or [len(rest)])
    found = _LOOPBACK_AUTHORITY.fullmatch(rest[:end])
    if found is None or (found[2] is not None and not 0 < int(found[2]) < 65536):
        return None
    return found[1], rest[end:]


class AuthorizationCode(db.Model, OAuth2AuthorizationCodeMixin):
    """An authorization code; ``code`` holds its SHA-256. Kept after use to detect replays."""

    __tablename__ = "oauth_authorization_code"
    # Every authorization request checks that its nonce is new for the portal (grants.exists_nonce);
    # without this index that check read all of the portal's codes.
    __table_args__ = (Index("ix_oauth_authorization_code_client_id_nonce", "client_id", "nonce"),)

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_client.client_id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[int] = mapped_column(Integer, default=lambda: int(time.time()))
    used_at: Mapped[datetime | None]
    sid: Mapped[str | None] = mapped_column(String(43))
    grant_id: Mapped[str] = mapped_column(String(36), default=lambda: str(uuid.uuid4()), index=True)
    claims_request: Mapped[dict | None] = mapped_column(JSON)

    account: Mapped[Account] = relationship()

    def is_expired(self) -> bool:
        """60 s from issue (the mixin counts from ``auth_time``: STYLE.md trap 3)."""
        return self.issued_at + CODE_LIFETIME < time.time()


class Token(db.Model, OAuth2TokenMixin):
    """An access token and perhaps a refresh token; both columns hold SHA-256 hashes."""

    __tablename__ = "oauth_token"

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True)
    access_token: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    # Every token issued from one code (and its refreshes) shares the grant id.
    grant_id: Mapped[str] = mapped_column(String(36), index=True)
    refresh_expires_at: Mapped[int | None] = mapped_column(Integer)
    # Set when this refresh token was exchanged; a second exchange is a replay.
    refresh_rotated_at: Mapped[int | None] = mapped_column(Integer)
    auth_time: Mapped[int | None] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(100))
    amr: Mapped[list | None] = mapped_column(JSON)
    sid: Mapped[str | None] = mapped_column(String(43))
    claims_request: Mapped[dict | None] = mapped_column(JSON)

    account: Mapped[Account | None] = relationship()
    client: Mapped[Client] = relationship(primaryjoin="Token.client_id == Client.client_id", viewonly=True)

    def get_client(self) -> Client:
        return self.client

    def get_user(self) -> Account | None:
        return self.account

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.expires_in

    def refresh_usable(self, now: int | None = None) -> bool:
        now = now or int(time.time())
        return (self.refresh_token is not None and not self.refresh_token_revoked_at
                and self.refresh_rotated_at is None
                and (self.refresh_expires_at is None or self.refresh_expires_at > now))


# Every bearer request reads one token: the statements are built once. Through the legacy
# ``Token.query`` API the statement was rebuilt and its cache key recomputed on every call
# (0.75 -> 0.52 ms CPU per read, in-process on PostgreSQL; userinfo costs ~1.7 ms in all).
_TOKEN_BY_HASH = {column: select(Token).options(joinedload(Token.account))
                  .where(getattr(Token, column) == bindparam("digest"))
                  for column in ("access_token", "refresh_token")}


def token_by_hash(column: str, digest: str) -> Token | None:
    """The token whose ``access_token`` or ``refresh_token`` hash is ``digest``, its account loaded."""
    return db.session.execute(_TOKEN_BY_HASH[column], {"digest": digest}).scalar_one_or_none()


class SigningKey(db.Model):
    """A key that signs ID tokens and logout tokens. The private JWK is encrypted at rest.

    Inactive keys stay published in the JWKS until every token they signed has expired, and
    stored a while longer for ID token hints (``keys.hint_window``).
    """

    __tablename__ = "oidc_signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(8))
    private_jwk: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class Consent(db.Model):
    """What a citizen allowed a portal to receive; revocable on the account page."""

    __tablename__ = "oidc_consent"
    __table_args__ = (UniqueConstraint("account_id", "client_id", name="uq_oidc_consent_account_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_client.client_id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    revoked_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship()

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())


class PortalSignIn(db.Model):
    """One browser session (``sid``) signed into one portal, and which claims the portal received.

    Back-channel logout finds the portals to tell here; the account page lists them.
    """

    __tablename__ = "oidc_portal_sign_in"
    __table_args__ = (UniqueConstraint("sid", "client_id", name="uq_oidc_portal_sign_in_sid_client"),)

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_client.client_id", ondelete="CASCADE"))
    sid: Mapped[str] = mapped_column(String(43), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    claims: Mapped[list] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship()


class LogoutDelivery(db.Model):
    """A back-channel logout owed to a portal; written with the session's end, sent after commit."""

    __tablename__ = "oidc_logout_delivery"

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    sid: Mapped[str] = mapped_column(String(43), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(255))


class ClientAssertionJti(db.Model):
    """``jti`` values of accepted ``private_key_jwt`` assertions: each is accepted once."""

    __tablename__ = "oidc_client_assertion_jti"
    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_oidc_client_assertion_jti_client_jti"),)

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(48))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


class RevokedAccessToken(db.Model):
    """A JWT access token its portal revoked (RFC 7009) before it expired.

    JWT access tokens are not stored, so revoking one means remembering its ``jti``
    until it would have expired anyway; every acceptance checks this list, and
    ``buergerkonto purge`` drops rows past ``expires_at``.
    """

    __tablename__ = "oauth_revoked_access_token"

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(48), index=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
