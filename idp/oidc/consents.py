"""What a citizen must agree to before a portal receives it, and whether they did.

Consent covers the scopes a portal asks for and one item that is not a scope: the
identity data confirmed by an ID check (OIDC4IDA ``verified_claims``, from the
Bürgerbüro's in-person check or the upstream eID). A portal asks for those through
the ``claims`` parameter, not a scope, so a consent decision made on scopes alone
would hand ID-card data to a portal with ``scope=openid``. The item is stored in
``Consent.scope`` under the name ``VERIFIED_CLAIMS``, beside the scopes, so that the
account page shows it and revoking the consent withdraws it too.

Member portals are the network's own municipal portals (DESIGN.md): they are trusted
with the citizen's data without a consent page, verified identity data included;
only offline access needs the citizen's word from them.
"""

from sqlalchemy import bindparam, select

from ..extensions import db
from .models import Consent

VERIFIED_CLAIMS = "verified_claims"
# What a member portal still has to ask for.
MEMBER_CONSENT_ITEMS = frozenset({"offline_access"})
_TARGETS = ("id_token", "userinfo")


def asks_for_verified_claims(claims_request: dict | None) -> bool:
    return any(VERIFIED_CLAIMS in ((claims_request or {}).get(target) or {}) for target in _TARGETS)


def items_requested(scopes, claims_request: dict | None) -> set[str]:
    """What the request would give the portal, as consent items: its scopes (without ``openid``,
    which gives nothing but the pseudonymous identifier) and verified identity data."""
    items = set(scopes) - {"openid"}
    if asks_for_verified_claims(claims_request):
        items.add(VERIFIED_CLAIMS)
    return items


def items_needing_consent(client, items: set[str]) -> set[str]:
    """Of ``items``, those this portal may only have with the citizen's consent."""
    return set(items) if not client.member else set(items) & MEMBER_CONSENT_ITEMS


# Built once, on the table: every authorization request reads what the citizen agreed to, and
# that is one column (the ORM entity with all its columns cost 3 % of a sign-in's CPU).
_T = Consent.__table__
_CONSENTED = select(_T.c.scope).where(_T.c.account_id == bindparam("account_id"),
                                      _T.c.client_id == bindparam("client_id"), _T.c.revoked_at.is_(None))


def consented_items(account_id: int, client_id: str) -> set[str]:
    """What the citizen's active consent for the portal covers (nothing without one)."""
    scope = db.session.execute(_CONSENTED, {"account_id": account_id, "client_id": client_id}).scalar()
    return set(scope.split()) if scope else set()


def releasable_claims_request(client, account_id: int, claims_request: dict | None) -> dict | None:
    """``claims_request`` without ``verified_claims`` unless the portal may receive them now.

    Checked whenever claims are released (ID token, userinfo), not only when the code was
    issued: a consent revoked since, or tokens issued before consent covered this data, must
    not carry the citizen's ID-card data.
    """
    if client.member or not asks_for_verified_claims(claims_request):
        return claims_request
    if VERIFIED_CLAIMS in consented_items(account_id, client.client_id):
        return claims_request
    return {target: {name: spec for name, spec in members.items() if name != VERIFIED_CLAIMS}
            for target, members in claims_request.items()}
