"""Assurance levels across the border: upstream ``acr`` values to local levels and back.

The Land's service account may speak eIDAS URIs, the older STORK-QAA levels or
values of its own; the operator's mapping (``UPSTREAM_ACR_MAP``) extends and
overrides the defaults below. Portals ask the Bürgerkonto for a level with
``acr_values`` (eIDAS URIs, or the bare level names); that wish is passed on
upstream as the upstream values that reach at least the same level.
"""

from urllib.parse import parse_qs, urlsplit

from ..idp.hooks import LEVELS

EIDAS = "http://eidas.europa.eu/LoA/"

DEFAULT_ACR_MAP = {
    f"{EIDAS}low": "low",
    f"{EIDAS}substantial": "substantial",
    f"{EIDAS}high": "high",
    "STORK-QAA-Level-1": "low",
    "STORK-QAA-Level-2": "low",
    "STORK-QAA-Level-3": "substantial",
    "STORK-QAA-Level-4": "high",
}

# How portals name a level when they ask the Bürgerkonto for one.
LOCAL_ACR_VALUES = {f"{EIDAS}{level}": level for level in LEVELS} | {level: level for level in LEVELS}


def effective_map(configured: dict | None) -> dict[str, str]:
    """The defaults with the operator's entries on top; unknown level names are dropped."""
    merged = dict(DEFAULT_ACR_MAP)
    for acr, level in (configured or {}).items():
        if isinstance(acr, str) and level in LEVELS:
            merged[acr] = level
    return merged


def level_for(acr: str | None, acr_map: dict[str, str]) -> str | None:
    """The local level of an upstream ``acr``; ``None`` when the value is not in the mapping."""
    if not isinstance(acr, str):
        return None
    return acr_map.get(acr)


def lowest(levels) -> str | None:
    levels = [level for level in levels if level in LEVELS]
    return min(levels, key=LEVELS.index) if levels else None


def requested_level(next_path: str | None) -> str | None:
    """The lowest level a pending portal authorization request (``next``) asks for, if any.

    The sign-in page receives the pending request as ``next``, a path such as
    ``/oauth/authorize?...&acr_values=http://eidas.europa.eu/LoA/high``.
    ``acr_values`` lists acceptable values, so the least of them is what
    satisfies the portal.
    """
    if not next_path:
        return None
    query = parse_qs(urlsplit(next_path).query)
    values = " ".join(query.get("acr_values", [])).split()
    return lowest(LOCAL_ACR_VALUES.get(value) for value in values)


def upstream_acr_values(level: str | None, acr_map: dict[str, str], supported: list | None) -> list[str]:
    """Upstream ``acr`` values that reach ``level``, weakest first (what suffices comes first).

    Only values the upstream advertises are sent when it advertises any.
    """
    if level is None:
        return []
    wanted = [acr for acr, mapped in acr_map.items() if LEVELS.index(mapped) >= LEVELS.index(level)]
    if supported:
        wanted = [acr for acr in wanted if acr in supported]
    return sorted(wanted, key=lambda acr: LEVELS.index(acr_map[acr]))
