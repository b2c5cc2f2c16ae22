"""The session id (``sid``) a portal sees: the browser session's own, keyed per sector.

ID tokens and back-channel logout tokens carry ``sid`` (Back-Channel Logout 1.0 §2.4). The
browser session's id was the same for every portal, so portals of different sectors could
join their records on it although their subjects are pairwise. Each sector now gets its own
value, derived like the pairwise ``sub`` (``claims.subject_for``): portals of one sector
(one operator) see the same, as they see the same ``sub``. Inside the service the session
keeps its own id (portal sign-ins, tokens, logout deliveries name it).
"""

from ..crypto import sector_value

PURPOSE = "oidc-sector-sid"


def portal_sid(client, sid: str) -> str:
    """``sid`` as ``client`` sees it: 43 URL-safe characters, like the session's own id."""
    return sector_value(PURPOSE, client.sector, sid)
