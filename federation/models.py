"""Federation records: the upstream provider (settings and discovery cache), links, upstream sign-ins."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..idp.cache import forget_on_change
from ..idp.extensions import GrowingId, db
from ..idp.models import Account
from ..idp.timeutil import utcnow


class Upstream(db.Model):
    """One upstream OpenID Connect provider, keyed by its issuer.

    A row configured with ``buergerkonto upstream configure`` carries the client
    credentials (the secret and private key encrypted under the service key). A
    provider configured from the environment has a row too, holding only the
    discovery cache, so that every app instance shares metadata and keys.
    """

    __tablename__ = "federation_upstream"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255), unique=True)
    # Set only for a provider configured through the CLI (stored configuration).
    client_id: Mapped[str | None] = mapped_column(String(255))
    client_secret_enc: Mapped[str | None] = mapped_column(Text)
    private_key_enc: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str | None] = mapped_column(String(255))
    acr_map: Mapped[dict | None] = mapped_column(JSON)
    display_name: Mapped[str | None] = mapped_column(String(100))
    configured_at: Mapped[datetime | None]
    # Discovery cache.
    server_metadata: Mapped[dict | None] = mapped_column(JSON)
    metadata_fetched_at: Mapped[datetime | None]
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_fetched_at: Mapped[datetime | None]


class FederatedIdentity(db.Model):
    """The link between an upstream identity (issuer + ``sub``) and a Bürgerkonto.

    ``claims`` are what the upstream last said about the citizen, kept apart
    from the account's own profile (which the upstream never overwrites).
    ``level`` is the level the upstream sign-in proved, through the acr mapping.
    """

    __tablename__ = "federation_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_federation_identity_issuer_subject"),
        UniqueConstraint("account_id", "issuer", name="uq_federation_identity_account_issuer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    claims: Mapped[dict | None] = mapped_column(JSON)
    acr: Mapped[str | None] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(16), default="low")
    # When the upstream authenticated the citizen (its ``auth_time``) on the last sign-in.
    verified_at: Mapped[datetime | None]
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()


class FederatedSession(db.Model):
    """A Bürgerkonto session that was signed in upstream, as its latest upstream sign-in left it.

    Keyed by the local session's ``sid``; the upstream ``sid`` lets an upstream
    back-channel logout find it, the (encrypted) ID token serves as
    ``id_token_hint`` for logging out upstream.
    """

    __tablename__ = "federation_session"

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(43), unique=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("federation_identity.id", ondelete="CASCADE"),
                                             index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    upstream_subject: Mapped[str] = mapped_column(String(255))
    upstream_sid: Mapped[str | None] = mapped_column(String(255), index=True)
    acr: Mapped[str | None] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(16), default="low")
    amr: Mapped[list | None] = mapped_column(JSON)
    id_token_enc: Mapped[str | None] = mapped_column(Text)
    # When the upstream authenticated the citizen (its ``auth_time``, else the ID token's ``iat``):
    # on the upstream's clock, like a logout token's ``iat``, which ends only sessions from before it.
    # NULL for sessions signed in before it was kept.
    upstream_auth_time: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    identity: Mapped[FederatedIdentity] = relationship()


class UpstreamLogoutToken(db.Model):
    """An upstream logout token that was accepted, by issuer and ``jti``: each is accepted once.

    Kept until the token would be refused for its age anyway (``expires_at``, Unix
    seconds: ``iat`` + ``UPSTREAM_LOGOUT_TOKEN_MAX_AGE`` + clock skew); ``buergerkonto
    purge`` drops it then.
    """

    __tablename__ = "federation_logout_token"
    __table_args__ = (UniqueConstraint("issuer", "jti", name="uq_federation_logout_token_issuer_jti"),)

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


# Discovery and every sign-in page read the upstream settings through caches (idp.cache).
forget_on_change(Upstream, "upstream", "discovery")
