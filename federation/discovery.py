"""The upstream's metadata and signing keys, fetched by discovery and cached in the database.

Every app instance shares the cache (the ``federation_upstream`` row), so a key
rotation upstream is noticed once: a token with an unknown ``kid`` causes one
fresh fetch of the JWKS. Tokens the upstream hands over on the back channel (the
token response) may always trigger that fetch; tokens anyone can post (logout
tokens) only when the keys were not fetched within ``UPSTREAM_JWKS_MIN_REFETCH``
seconds, so forged ``kid`` values cannot turn the service into a load generator.

All calls to the upstream use a short timeout (``UPSTREAM_TIMEOUT``, 3 s) for
each read, and the body of an answer must arrive within twice that and be at
most ``MAX_ANSWER_BYTES`` (an answer is a few KiB): a slow or broken upstream
means a clear page for the citizen, not a hanging one or a worker out of memory.

Keys are kept at most ``UPSTREAM_JWKS_TTL`` seconds (10 minutes): a key the
upstream withdrew (after a compromise, say) is trusted no longer than that,
even while every token names a ``kid`` still in the cache. Fetches that anyone
can cause are counted from the last attempt, failed ones included, so a slow
upstream cannot be made to hold one worker per forged logout token.
"""

import json
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
import urllib3
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


MAX_ANSWER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """The upstream's answer, its body read whole (within the limits of ``http``)."""

    status_code: int
    headers: requests.structures.CaseInsensitiveDict
    content: bytes


def http(method: str, url: str, **kwargs) -> Answer:
    """One request to the upstream; a timeout, no answer, or an answer too slow or too large
    become ``UpstreamUnavailable``. The body is read as it arrives (``read1``): a per-read timeout
    alone let an upstream sending a byte a second hold the request as long as it liked."""
    deadline = answer_deadline()
    try:
        with requests.request(method, url, timeout=timeout(), allow_redirects=False, stream=True,
                              **kwargs) as response:
            return Answer(response.status_code, response.headers, read_body(response, deadline))
    except requests.Timeout as exc:
        raise UpstreamUnavailable("timeout") from exc
    except requests.RequestException as exc:
        raise UpstreamUnavailable("unreachable") from exc


def answer_deadline() -> float:
    """When an answer's body must be in (``time.monotonic``), counted from the request's start."""
    return time.monotonic() + 2 * timeout()


def read_body(response: requests.Response, deadline: float) -> bytes:
    """The body of a ``stream=True`` response, read as it arrives; ``UpstreamUnavailable`` when it
    is larger than ``MAX_ANSWER_BYTES`` or still arriving at ``deadline``."""
    body = bytearray()
    try:
        while chunk := response.raw.read1(65536, decode_content=True):
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise UpstreamUnavailable("answer-too-large")
            if time.monotonic() > deadline:
                raise UpstreamUnavailable("timeout")
    except urllib3.exceptions.TimeoutError as exc:  # (urllib3's own: ``read1`` is below requests)
        raise UpstreamUnavailable("timeout") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamUnavailable("unreachable") from exc
    return bytes(body)


def json_object(answer: Answer, reason: str) -> dict:
    """The answer's body as a JSON object; anything else is ``UpstreamUnavailable(reason)``."""
    try:
        data = json.loads(answer.content)
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


# When this process last tried to fetch an issuer's metadata or keys (per app: ``app.extensions``),
# whether it worked or not.
_ATTEMPTS = "federation.fetch_attempts"
_attempts_lock = threading.Lock()


def _may_fetch(issuer: str, what: str) -> bool:
    """Whether a fetch anyone can cause may go out now: not within ``UPSTREAM_JWKS_MIN_REFETCH``
    seconds of this process's last attempt (counting failures: a stored fetch time counts successes
    only, and a slow upstream then cost a worker per forged token)."""
    interval = _seconds("UPSTREAM_JWKS_MIN_REFETCH")
    now = time.monotonic()
    with _attempts_lock:
        attempts = current_app.extensions.setdefault(_ATTEMPTS, {})
        last = attempts.get((issuer, what))
        if last is not None and now - last < interval:
            return False
        attempts[(issuer, what)] = now
        return True


def _seconds(setting: str) -> int:
    return int(current_app.config[setting])


def _age_below(fetched_at, seconds: int) -> bool:
    return fetched_at is not None and utcnow() - fetched_at < timedelta(seconds=seconds)


def metadata(settings: UpstreamSettings, untrusted: bool = False) -> dict:
    """The upstream's OpenID Provider metadata (cached for ``UPSTREAM_METADATA_TTL`` seconds).

    A stale copy is used when a refresh fails, so a short upstream hiccup does not stop sign-ins
    that would otherwise work; ``untrusted`` callers then do not try again for a while.
    """
    row = cache_row(settings)
    if row.server_metadata and _age_below(row.metadata_fetched_at, _seconds("UPSTREAM_METADATA_TTL")):
        return row.server_metadata
    if untrusted and row.server_metadata and not _may_fetch(settings.issuer, "metadata"):
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


def jwks(settings: UpstreamSettings, untrusted: bool) -> dict:
    """The upstream's keys: the cached set while younger than ``UPSTREAM_JWKS_TTL``, else fetched
    again (and only the keys the upstream publishes now are trusted)."""
    row = cache_row(settings)
    if row.jwks and _age_below(row.jwks_fetched_at, _seconds("UPSTREAM_JWKS_TTL")):
        return row.jwks
    return refresh_jwks(settings, untrusted)


def refresh_jwks(settings: UpstreamSettings, untrusted: bool) -> dict:
    """Fetch the keys again (an unknown ``kid`` appeared, or the cached set is too old).

    For ``untrusted`` tokens (anyone can post a logout token) at most once per
    ``UPSTREAM_JWKS_MIN_REFETCH`` seconds and process: until then the cached set, if it is not
    past ``UPSTREAM_JWKS_TTL``; else no keys (``UpstreamUnavailable``).
    """
    row = cache_row(settings)
    fetched_just_now = row.jwks and _age_below(row.jwks_fetched_at, _seconds("UPSTREAM_JWKS_MIN_REFETCH"))
    if untrusted and (fetched_just_now or not _may_fetch(settings.issuer, "jwks")):
        if row.jwks and _age_below(row.jwks_fetched_at, _seconds("UPSTREAM_JWKS_TTL")):
            return row.jwks
        raise UpstreamUnavailable("jwks-not-fetched")
    data = _get_json(metadata(settings, untrusted)["jwks_uri"])
    if not isinstance(data.get("keys"), list):
        raise UpstreamUnavailable("jwks-invalid")
    row.jwks = data
    row.jwks_fetched_at = utcnow()
    return data
