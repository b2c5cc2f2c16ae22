"""Checking what the upstream signs: ID tokens (OIDC Core 3.1.3.7) and logout tokens (Back-Channel Logout 2.6).

Signatures are verified with joserfc (what Authlib 1.9 builds on) against the
upstream's published keys; the ID token's claims with Authlib's ``CodeIDToken``
rules (iss, aud, exp, iat, nonce, azp, at_hash), plus what this service relies
on: a string ``sub``, a plausible ``auth_time``, a string ``acr``.
"""

import math
import time

from authlib.oidc.core import CodeIDToken
from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from . import discovery
from .settings import UpstreamSettings

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Asymmetric algorithms only: "none" and the HMAC family are never accepted.
ACCEPTED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
# A logout token's jti is remembered (``UpstreamLogoutToken.jti``); longer ones are refused.
MAX_JTI_LENGTH = 255


class TokenRejected(Exception):
    """The token is not acceptable; ``reason`` is a short tag for the security event."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _leeway() -> int:
    return int(current_app.config.get("UPSTREAM_CLOCK_SKEW", 60))


def _allowed_algs(settings: UpstreamSettings, field: str, untrusted: bool) -> set[str]:
    advertised = discovery.metadata(settings, untrusted).get(field) or ["RS256"]
    return {alg for alg in advertised if alg in ACCEPTED_ALGS}


def _kids(keyset: dict) -> set:
    return {key.get("kid") for key in keyset.get("keys", []) if isinstance(key, dict)}


def _check_header_types(header: dict) -> None:
    """The header members read here and by joserfc have the types RFC 7515 (4.1) gives them.

    Anyone may post a logout token: a list or an object where a string belongs is a
    malformed token (400), not a TypeError in a set lookup (500).
    """
    if not isinstance(header.get("alg"), str):
        raise TokenRejected("alg")
    if header.get("kid") is not None and not isinstance(header["kid"], str):
        raise TokenRejected("malformed")
    crit = header.get("crit")
    if crit is not None and not (isinstance(crit, list) and all(isinstance(name, str) for name in crit)):
        raise TokenRejected("malformed")


def verify_signature(settings: UpstreamSettings, token: str, untrusted: bool,
                     algs_field: str = "id_token_signing_alg_values_supported") -> tuple[dict, dict]:
    """Verify ``token``'s signature with the upstream's keys; returns (header, claims).

    An unknown ``kid`` fetches the keys once more (key rotation upstream).
    """
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16384:
        raise TokenRejected("malformed")
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise TokenRejected("malformed") from exc
    _check_header_types(header)
    alg = header["alg"]
    if alg not in _allowed_algs(settings, algs_field, untrusted):
        raise TokenRejected("alg")
    keyset = discovery.jwks(settings, untrusted)
    kid = header.get("kid")
    if kid is not None and kid not in _kids(keyset):
        keyset = discovery.refresh_jwks(settings, untrusted=untrusted)
        if kid not in _kids(keyset):
            raise TokenRejected("unknown-kid")
    try:
        decoded = jwt.decode(token, KeySet.import_key_set(keyset), algorithms=[alg])
    except BadSignatureError as exc:
        raise TokenRejected("signature") from exc
    except JoseError as exc:
        raise TokenRejected("malformed") from exc
    return decoded.header, decoded.claims


def _claim_failure(exc: JoseError) -> TokenRejected:
    claim = getattr(exc, "claim", None) or ""
    return TokenRejected(f"{exc.error}:{claim}" if claim else exc.error)


_EARLIEST = 946_684_800  # 2000-01-01T00:00:00Z


def _storable(value) -> bool:
    """A string this service stores in a column of 255 characters (``sub``, ``sid``, ``acr``)."""
    return isinstance(value, str) and 0 < len(value) <= 255


def validate_id_token(settings: UpstreamSettings, id_token: str, nonce: str,
                      access_token: str | None = None) -> dict:
    """The ID token's claims after full validation; raises ``TokenRejected``."""
    header, claims = verify_signature(settings, id_token, untrusted=False)
    options = {
        "iss": {"essential": True, "value": settings.issuer},
        "aud": {"essential": True, "value": settings.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": settings.client_id}
    if access_token:
        params["access_token"] = access_token
    try:
        CodeIDToken(claims, header, options, params).validate(leeway=_leeway())
    except JoseError as exc:
        raise _claim_failure(exc) from exc
    if not _storable(claims["sub"]):
        raise TokenRejected("invalid_claim:sub")
    for name in ("auth_time", "iat"):
        # A time this service stores: a number, not in the future, and not before 2000 (a year such as
        # -1199 cannot even be a date here).
        moment = claims.get(name)
        if moment is not None and (isinstance(moment, bool) or not isinstance(moment, (int, float))
                                   or not _EARLIEST <= moment <= time.time() + _leeway()):
            raise TokenRejected(f"invalid_claim:{name}")
    for name in ("acr", "sid"):
        if name in claims and not _storable(claims[name]):
            raise TokenRejected(f"invalid_claim:{name}")
    if "amr" in claims and not (isinstance(claims["amr"], list) and len(claims["amr"]) <= 20
                                and all(isinstance(m, str) and 0 < len(m) <= 64 for m in claims["amr"])):
        raise TokenRejected("invalid_claim:amr")
    return claims


def validate_logout_token(settings: UpstreamSettings, logout_token: str) -> dict:
    """A logout token's claims after the checks of Back-Channel Logout 1.0, section 2.6."""
    header, claims = verify_signature(settings, logout_token, untrusted=True,
                                      algs_field="id_token_signing_alg_values_supported")
    typ = header.get("typ")
    if typ is not None and str(typ).lower() not in ("logout+jwt", "application/logout+jwt"):
        raise TokenRejected("typ")
    registry = jwt.JWTClaimsRegistry(
        leeway=_leeway(),
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.client_id},
        iat={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise _claim_failure(exc) from exc
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise TokenRejected("invalid_claim:events")
    if "nonce" in claims:
        raise TokenRejected("invalid_claim:nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if sid is None and sub is None:
        raise TokenRejected("missing_claim:sid,sub")
    # An empty ``sid`` names no session: read as absent it would end every session of the ``sub``.
    if sid is not None and not _storable(sid):
        raise TokenRejected("invalid_claim:sid")
    if sub is not None and not _storable(sub):
        raise TokenRejected("invalid_claim:sub")
    if not 0 < len(claims["jti"]) <= MAX_JTI_LENGTH:
        raise TokenRejected("invalid_claim:jti")
    if not isinstance(claims["iat"], (int, float)) or _logout_token_accepted_until(claims) < time.time():
        raise TokenRejected("invalid_claim:iat")
    return claims


def _logout_token_accepted_until(claims: dict) -> float:
    """Until when a logout token passes the age check: ``iat`` + the maximum age + clock skew."""
    return claims["iat"] + int(current_app.config.get("UPSTREAM_LOGOUT_TOKEN_MAX_AGE", 300)) + _leeway()


def logout_token_expiry(claims: dict) -> int:
    """The whole second after which a validated logout token is refused for its age anyway:
    how long its ``jti`` must be remembered to refuse a replay."""
    return math.ceil(_logout_token_accepted_until(claims))
