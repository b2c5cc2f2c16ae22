"""Where the upstream's settings come from: the environment first, else the database.

Environment (``BUERGERKONTO_UPSTREAM_ISSUER``, ``_CLIENT_ID``, ``_CLIENT_SECRET``
or ``_PRIVATE_KEY``, ``_SCOPES``, ``_ACR_MAP`` as JSON, ``_NAME``) suits container
deployments; ``buergerkonto upstream configure`` stores the same in the
database, the secret and key encrypted under the service key.
"""

import json
from dataclasses import dataclass, field

from flask import current_app

from ..idp import crypto
from ..idp.cache import cache, forget
from .levels import effective_map

DEFAULT_SCOPES = "openid profile email address"
SECRET_PURPOSE = "federation-client-secret"
KEY_PURPOSE = "federation-private-key"


class NotConfigured(LookupError):
    """No upstream provider is configured; federation is switched off."""


@dataclass(frozen=True)
class UpstreamSettings:
    issuer: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    # PEM or a private JWK (JSON) for private_key_jwt.
    private_key: str | None = field(default=None, repr=False)
    scopes: str = DEFAULT_SCOPES
    acr_map: dict = field(default_factory=dict)
    display_name: str | None = None
    source: str = "environment"

    @property
    def auth_method(self) -> str:
        return "private_key_jwt" if self.private_key else "client_secret_basic"

    @property
    def scope_list(self) -> list[str]:
        scopes = self.scopes.split()
        return scopes if "openid" in scopes else ["openid", *scopes]


def from_environment(config) -> UpstreamSettings | None:
    issuer = (config.get("UPSTREAM_ISSUER") or "").strip().rstrip("/")
    if not issuer:
        return None
    acr_map = config.get("UPSTREAM_ACR_MAP") or {}
    if isinstance(acr_map, str):
        acr_map = json.loads(acr_map)
    return UpstreamSettings(
        issuer=issuer,
        client_id=str(config.get("UPSTREAM_CLIENT_ID") or ""),
        client_secret=config.get("UPSTREAM_CLIENT_SECRET") or None,
        private_key=config.get("UPSTREAM_PRIVATE_KEY") or None,
        scopes=config.get("UPSTREAM_SCOPES") or DEFAULT_SCOPES,
        acr_map=effective_map(acr_map),
        display_name=config.get("UPSTREAM_NAME") or None,
        source="environment",
    )


def from_database() -> UpstreamSettings | None:
    from .models import Upstream

    row = Upstream.query.filter(Upstream.client_id.isnot(None)).order_by(Upstream.id).first()
    if row is None:
        return None
    associated = row.issuer.encode()
    return UpstreamSettings(
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret=(crypto.decrypt(row.client_secret_enc, SECRET_PURPOSE, associated).decode()
                       if row.client_secret_enc else None),
        private_key=(crypto.decrypt(row.private_key_enc, KEY_PURPOSE, associated).decode()
                     if row.private_key_enc else None),
        scopes=row.scopes or DEFAULT_SCOPES,
        acr_map=effective_map(row.acr_map),
        display_name=row.display_name,
        source="database",
    )


def current() -> UpstreamSettings | None:
    """The configured upstream (settings are immutable: cached per process, see ``idp.cache``);
    ``None`` when federation is off."""
    return from_environment(current_app.config) or cache("upstream").get("settings", from_database)


def display_name() -> str | None:
    """The upstream's name as the operator configured it (``UPSTREAM_NAME``, ``--name``): what citizens
    know it by ("BundID", "Servicekonto Niedersachsen"). ``None`` when none is set: the pages then speak
    of "the service account of the Land"."""
    settings = current()
    name = (settings.display_name or "").strip() if settings is not None else ""
    return name or None


def by_name(named: str, fallback: str) -> str:
    """A translated text about the upstream: ``named`` (with ``%(name)s``) filled in with the configured
    name, else ``fallback``, the text about "the service account of the Land". Two texts rather than one
    with a name inserted: German declines "das Servicekonto des Landes", a proper name it does not."""
    name = display_name()
    return named % {"name": name} if name else fallback


def require() -> UpstreamSettings:
    settings = current()
    if settings is None or not settings.client_id:
        raise NotConfigured()
    return settings


def store(issuer: str, client_id: str, client_secret: str | None, private_key: str | None,
          scopes: str | None, acr_map: dict | None, display_name: str | None):
    """Save the upstream configuration (replacing any earlier stored one); caller commits."""
    from ..idp.timeutil import utcnow
    from .models import Upstream

    issuer = issuer.strip().rstrip("/")
    for other in Upstream.query.filter(Upstream.issuer != issuer, Upstream.client_id.isnot(None)):
        other.client_id = other.client_secret_enc = other.private_key_enc = None
    row = Upstream.query.filter_by(issuer=issuer).first() or Upstream(issuer=issuer)
    associated = issuer.encode()
    row.client_id = client_id
    row.client_secret_enc = crypto.encrypt(client_secret.encode(), SECRET_PURPOSE, associated) if client_secret else None
    row.private_key_enc = crypto.encrypt(private_key.encode(), KEY_PURPOSE, associated) if private_key else None
    row.scopes = scopes or DEFAULT_SCOPES
    row.acr_map = acr_map or None
    row.display_name = display_name
    row.configured_at = utcnow()
    from ..idp.extensions import db

    db.session.add(row)
    forget("upstream", "discovery")
    return row
