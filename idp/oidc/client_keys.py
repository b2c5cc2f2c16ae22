"""A portal's public keys for ``private_key_jwt``: from its registration, or fetched from its ``jwks_uri``.

A fetched set is kept per process for ``OIDC_CLIENT_JWKS_SECONDS`` (5 minutes). Fetching it on every
token request cost a round trip to the portal's web server each time (seconds when it was slow, with
a request thread waiting) and made our token endpoint only as available as that server. A portal
that rotates its key signs with a new ``kid``: an assertion whose ``kid`` the kept set lacks fetches
the set again, but at most once per ``REFETCH_SECONDS`` per portal, so made-up ``kid`` values cannot
turn the provider into a fetcher that hammers a portal.
"""

import json
import time

import requests
from authlib.oauth2.rfc6749.errors import InvalidClientError
from flask import current_app, request
from joserfc import jws
from joserfc.errors import JoseError

from ..cache import cache

MAX_JWKS_BYTES = 64 * 1024
REFETCH_SECONDS = 30


def key_set_data(client) -> dict | None:
    """The portal's JWKS as a dict: registered, else fetched (kept, refetched for an unknown ``kid``)."""
    registered = client.client_metadata.get("jwks")
    if registered or not client.jwks_uri:
        return registered
    kept = cache("client_jwks").peek(client.jwks_uri)
    if kept is not None:
        fetched_at, data = kept
        kid = _assertion_kid()
        if kid is None or kid in _kids(data) or time.monotonic() - fetched_at < REFETCH_SECONDS:
            return data
    data = fetch_jwks(client.jwks_uri)
    cache("client_jwks").put(client.jwks_uri, (time.monotonic(), data),
                             float(current_app.config["OIDC_CLIENT_JWKS_SECONDS"]))
    return data


def fetch_jwks(uri: str) -> dict:
    """Fetch a portal's JWKS: short timeouts, no redirects, bounded size."""
    try:
        response = requests.get(uri, timeout=(2, 3), allow_redirects=False, stream=True,
                                headers={"Accept": "application/json"})
        body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
        response.close()
        if response.status_code != 200 or len(body) > MAX_JWKS_BYTES:
            raise ValueError("bad response")
        return json.loads(body)
    except (requests.RequestException, ValueError):
        raise InvalidClientError(description="The client's key set cannot be fetched.") from None


def _assertion_kid() -> str | None:
    """The ``kid`` in the header of the assertion being checked (Authlib has parsed it already)."""
    try:
        kid = jws.extract_compact(request.form["client_assertion"].encode()).protected.get("kid")
    except (KeyError, JoseError, ValueError, AttributeError):
        return None
    return kid if isinstance(kid, str) else None


def _kids(data) -> set:
    keys = data.get("keys") if isinstance(data, dict) else None
    return {key.get("kid") for key in keys if isinstance(key, dict)} if isinstance(keys, list) else set()
