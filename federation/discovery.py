"""The upstream's metadata and signing keys, fetched by discovery and cached in the database.

Every app instance shares the cache (the ``federation_upstream`` row), so a key
rotation upstream is noticed once: a token with an unknown ``kid`` causes one
fresh fetch of the JWKS. Tokens the upstream hands over on the back channel (the
token response) may always trigger that fetch; tokens anyone can post (logout
tokens) only when the keys were not fetched within ``UPSTREAM_JWKS_MIN_REFETCH``
seconds, so forged ``kid`` values cannot turn the service into a load generator.

All calls to the upstream use a short timeout (``UPSTREAM_TIMEOUT``, 3 s): a
slow upstream means a clear page for the citizen, not a hanging one.
"""

from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..idp.extensions import db
from ..idp.timeutil import utcnow
from .models import Upstream
from .settings import UpstreamSettings

DISCOVERY_PATH = "/.well-known/openid-configuration"


class UpstreamUnavailable(Exception):
    """The upstream did not answer in time, could not be reached, or answered nonsense."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def timeout() -> float:
    return float(current_app.config.get("UPSTREAM_TIMEOUT", 3))


def http(method: str, url: str, **kwargs) -> requests.Response:
    """One request to the upstream with the short timeout; failures become ``UpstreamUnavailable``."""
    try:
        return requests.request(method, url, timeout=timeout(), allow_redirects=False, **kwargs)
    except requests.Timeout as exc:
        raise UpstreamUnavailable("timeout") from exc
    except requests.RequestException as exc:
        raise UpstreamUnavailable("unreachable") from exc


def json_object(response: requests.Response, reason: str) -> dict:
    """The response's body as a JSON object; anything else is ``UpstreamUnavailable(reason)``."""
    try:
        data = response.json()
    except ValueError as exc:  # not JSON, or not decodable text
        raise UpstreamUnavailable(reason) from exc
    if not isinstance(data, dict):
        raise UpstreamUnavailable(reason)
    return data


def _get_json(url: str) -> dict:
    response = http("GET", url, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise UpstreamUnavailable(f"http-{response.status_code}")
    return json_object(response, "not-json")


def cache_row(settings: UpstreamSettings) -> Upstream:
    """The row holding this issuer's cache, created on first use."""
    row = Upstream.query.filter_by(issuer=settings.issuer).first()
    if row is None:
        try:
            with db.session.begin_nested():
                row = Upstream(issuer=settings.issuer)
                db.session.add(row)
        except IntegrityError:  # another instance created it first
            row = Upstream.query.filter_by(issuer=settings.issuer).one()
    return row


def metadata(settings: UpstreamSettings) -> dict:
    """The upstream's OpenID Provider metadata (cached for ``UPSTREAM_METADATA_TTL`` seconds).

    A stale copy is used when a refresh fails, so a short upstream hiccup does
    not stop sign-ins that would otherwise work.
    """
    row = cache_row(settings)
    ttl = timedelta(seconds=int(current_app.config.get("UPSTREAM_METADATA_TTL", 3600)))
    if row.server_metadata and row.metadata_fetched_at and utcnow() - row.metadata_fetched_at < ttl:
        return row.server_metadata
    try:
        data = _get_json(settings.issuer + DISCOVERY_PATH)
    except UpstreamUnavailable:
        if row.server_metadata:
            return row.server_metadata
        raise
    # OpenID Connect Discovery 1.0, section 4.3: the issuer must be exactly the one configured.
    if data.get("issuer") != settings.issuer:
        raise UpstreamUnavailable("issuer-mismatch")
    for required in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(required), str):
            raise UpstreamUnavailable(f"metadata-{required}")
    row.server_metadata = data
    row.metadata_fetched_at = utcnow()
    return data


def jwks(settings: UpstreamSettings) -> dict:
    """The cached JWKS, fetched on first use."""
    row = cache_row(settings)
    if row.jwks:
        return row.jwks
    return refresh_jwks(settings, untrusted=False)


def refresh_jwks(settings: UpstreamSettings, untrusted: bool) -> dict:
    """Fetch the JWKS again (an unknown ``kid`` appeared); rate-limited for untrusted tokens."""
    row = cache_row(settings)
    if untrusted and row.jwks and row.jwks_fetched_at:
        interval = timedelta(seconds=int(current_app.config.get("UPSTREAM_JWKS_MIN_REFETCH", 60)))
        if utcnow() - row.jwks_fetched_at < interval:
            return row.jwks
    data = _get_json(metadata(settings)["jwks_uri"])
    if not isinstance(data.get("keys"), list):
        raise UpstreamUnavailable("jwks-invalid")
    row.jwks = data
    row.jwks_fetched_at = utcnow()
    return data
