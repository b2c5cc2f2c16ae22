"""What the provider says about a citizen: subject identifiers, levels (acr/amr), claims.

The level of a sign-in is the lower of the account's identity proofing (from
the trust-levels part via ``hooks.proofing_level``) and the strength of the
session's authentication: a password alone is ``low``, password plus a second
factor (``mfa`` in the session's amr, RFC 8176) ``substantial``.
"""

import json
import math

from ..crypto import sector_value
from ..hooks import LEVELS, hooks, proofing_level
from ..models import Account, WebSession
from ..timeutil import epoch

EIDAS = {level: f"http://eidas.europa.eu/LoA/{level}" for level in LEVELS}
# STORK QAA levels as aliases: QAA 1 and 2 are below/at "low", 3 is "substantial", 4 "high".
ALIASES = {"STORK-QAA-Level-1": "low", "STORK-QAA-Level-2": "low",
           "STORK-QAA-Level-3": "substantial", "STORK-QAA-Level-4": "high"}
ACR_VALUES_SUPPORTED = list(EIDAS.values()) + list(ALIASES)

SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}
USER_SCOPES = ("openid", "profile", "email", "address", "phone", "offline_access")
CLAIMS_SUPPORTED = sorted({"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                           "at_hash", "verified_claims"} | {c for cs in SCOPE_CLAIMS.values() for c in cs})
MAX_CLAIMS_PARAMETER = 4096


class ClaimsRequestInvalid(ValueError):
    """The ``claims`` parameter is not a well-formed OIDC Core §5.5 request."""


# --- subjects ---------------------------------------------------------------------------

def subject_for(client, account: Account) -> str:
    """``sub`` for ``account`` as seen by ``client``: pairwise per sector unless configured public."""
    if client.subject_type == "public":
        return account.uuid
    return sector_value("oidc-pairwise-subject", client.sector, account.uuid)


# --- levels ------------------------------------------------------------------------------

def level_of(acr: str) -> str | None:
    """The level an acr value stands for (eIDAS URI or STORK alias); ``None`` if unknown."""
    for level, uri in EIDAS.items():
        if acr == uri:
            return level
    return ALIASES.get(acr)


def session_strength(record: WebSession) -> str:
    """How strong this sign-in was: password alone ``low``, with a second factor ``substantial``;
    a part that authenticated the session itself (federation: the upstream eID) may know better.

    ``mfa`` counts as this service's own second factor: only its sign-in and step-up put it into
    the session's amr (an upstream's amr stays on the federation's record and counts only
    through the level its acr maps to)."""
    strength = "substantial" if "mfa" in (record.amr or []) else "low"
    for provider in hooks().session_level:
        asserted = provider(record)
        if asserted and LEVELS.index(asserted) > LEVELS.index(strength):
            strength = asserted
    return strength


def lower(a: str, b: str) -> str:
    return a if LEVELS.index(a) <= LEVELS.index(b) else b


def at_least(level: str, required: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(required)


def achieved_level(account: Account, record: WebSession) -> str:
    strength = session_strength(record)
    if strength == LEVELS[0]:
        # Nothing proven in person lifts a password-only sign-in: skip asking the parts (two queries
        # on every portal sign-in of most citizens).
        return strength
    return lower(proofing_level(account), strength)


def still_held(acr: str | None, account: Account) -> str | None:
    """A sign-in's ``acr`` as it holds now: capped at the account's identity proofing of today.

    A refresh keeps the level of the sign-in it came from (OIDC Core §12.2), but the level was never
    the session's strength alone: it is the lower of that and the identity proofing, and proofing
    can be withdrawn (a Bürgerbüro confirmation revoked, the document expired). A refresh token lives
    30 days; without the cap it went on asserting ``substantial`` after the citizen was told services
    that need it were no longer available. ``low`` needs no proofing and asks the parts nothing.
    """
    level = level_of(acr or "")
    if level is None or level == LEVELS[0]:
        return acr
    now = lower(proofing_level(account), level)
    return acr if now == level else EIDAS[now]


def acr_value(level: str, essential_values: list[str] | None) -> str:
    """The ``acr`` to assert: one of the essential values when there were some, else the eIDAS URI."""
    if essential_values:
        satisfied = [v for v in essential_values if level_of(v) and at_least(level, level_of(v))]
        if satisfied:
            return max(satisfied, key=lambda v: LEVELS.index(level_of(v)))
    return EIDAS[level]


def amr_values(amr: list[str] | None) -> list[str]:
    """RFC 8176 method references of the session (``pwd``, ``otp``, ``mfa``)."""
    return list(amr or ["pwd"])


# --- the claims parameter ---------------------------------------------------------------

def parse_claims_request(raw: str | None) -> dict | None:
    """Parse and check the ``claims`` parameter (OIDC Core §5.5); ``None`` when absent."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CLAIMS_PARAMETER:
        raise ClaimsRequestInvalid("The 'claims' parameter is too long.")
    try:
        # JSON has no NaN or Infinity (Python reads them, PostgreSQL's json type refuses them when the
        # code is stored), and nesting deep enough exhausts the parser's recursion.
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        raise ClaimsRequestInvalid("The 'claims' parameter is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ClaimsRequestInvalid("The 'claims' parameter must be a JSON object.")
    result = {}
    for target in ("id_token", "userinfo"):
        members = data.get(target)
        if members is None:
            continue
        if not isinstance(members, dict):
            raise ClaimsRequestInvalid(f"'{target}' in 'claims' must be an object.")
        for name, spec in members.items():
            if spec is not None and not isinstance(spec, dict):
                raise ClaimsRequestInvalid("Each requested claim must be null or an object.")
            if spec and "essential" in spec and not isinstance(spec["essential"], bool):
                raise ClaimsRequestInvalid("'essential' must be true or false.")
            if spec and "values" in spec and not isinstance(spec["values"], list):
                raise ClaimsRequestInvalid("'values' must be an array.")
        result[target] = members
    return result


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def essential_acr(claims_request: dict | None) -> tuple[bool, list[str]]:
    """(essential?, values) of an ``acr`` request in the ID token part of ``claims``."""
    spec = ((claims_request or {}).get("id_token") or {}).get("acr")
    if not spec:
        return False, []
    values = list(spec.get("values") or []) or ([spec["value"]] if "value" in spec else [])
    values = [v for v in values if isinstance(v, str)]
    return bool(spec.get("essential")), values


def requested_sub(claims_request: dict | None) -> str | None:
    """A specific ``sub`` demanded by the ``claims`` parameter (OIDC Core §5.5.1)."""
    for target in ("id_token", "userinfo"):
        spec = ((claims_request or {}).get(target) or {}).get("sub")
        if isinstance(spec, dict) and isinstance(spec.get("value"), str):
            return spec["value"]
    return None


# --- claim values ------------------------------------------------------------------------

def _value(account: Account, name: str):
    if name == "email_verified":
        return account.email_verified if account.email else None
    if name == "phone_number_verified":
        return False if account.phone_number else None
    if name == "updated_at":
        return epoch(account.updated_at) if account.updated_at else None
    if name == "address":
        if not account.address:
            return None
        address = dict(account.address)
        lines = [address.get("street_address"), " ".join(filter(None, [address.get("postal_code"),
                                                                        address.get("locality")]))]
        address["formatted"] = "\n".join(line for line in lines if line)
        return address
    if name in ("name", "given_name", "family_name", "email", "phone_number", "locale"):
        return getattr(account, name)
    return None


def scope_claim_names(scope: str) -> list[str]:
    names = []
    for item in (scope or "").split():
        names.extend(SCOPE_CLAIMS.get(item, ()))
    return names


def claim_values(account: Account, names) -> dict:
    """The values of ``names`` that the account has (absent claims are left out)."""
    result = {}
    for name in names:
        value = _value(account, name)
        if value is not None:
            result[name] = value
    return result


def verified_claims(account: Account, record: WebSession | None, requested) -> dict | list | None:
    """OIDC4IDA ``verified_claims`` from the parts that vouch for the identity, when requested."""
    if requested is None:
        return None
    found = []
    for provider in hooks().verified_claims:
        found.extend(provider(account, record, requested if isinstance(requested, dict) else None) or [])
    if not found:
        return None
    return found[0] if len(found) == 1 else found


def requested_claims(claims_request: dict | None, target: str) -> dict:
    return dict((claims_request or {}).get(target) or {})


def session_for_verified_claims(sid: str | None, claims_request: dict | None, target: str) -> WebSession | None:
    """The sign-in's browser session, read only when ``target`` asks for verified_claims: their level
    depends on it, and nothing else released to a portal does."""
    if not sid or "verified_claims" not in requested_claims(claims_request, target):
        return None
    return WebSession.query.filter_by(sid=sid).first()


def userinfo_claims(account: Account, scope: str, claims_request: dict | None,
                    record: WebSession | None) -> dict:
    """Claims for the userinfo response: those of the granted scopes plus those requested by name."""
    requested = requested_claims(claims_request, "userinfo")
    allowed = set(scope_claim_names(scope))
    # A claim requested by name is only released when its scope was granted (consent covers scopes).
    names = list(dict.fromkeys(scope_claim_names(scope) + [n for n in requested if n in allowed]))
    result = claim_values(account, names)
    if "verified_claims" in requested:
        vc = verified_claims(account, record, requested["verified_claims"])
        if vc is not None:
            result["verified_claims"] = vc
    return result


def id_token_extra_claims(account: Account, scope: str, claims_request: dict | None,
                          record: WebSession | None) -> dict:
    """Claims asked for in the ID token by the ``claims`` parameter, within the granted scopes."""
    requested = requested_claims(claims_request, "id_token")
    allowed = set(scope_claim_names(scope))
    result = claim_values(account, [n for n in requested if n in allowed])
    if "verified_claims" in requested:
        vc = verified_claims(account, record, requested["verified_claims"])
        if vc is not None:
            result["verified_claims"] = vc
    return result
