"""Federation use cases: start and finish an upstream sign-in, create or link an account, unlink, log out.

Functions change the session's transaction; views and the CLI commit. Every
refusal is a security event (``federation:...``) and leaves nothing created or
linked.
"""

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app, session
from sqlalchemy import and_, delete, or_, select, update

from ..idp import accounts, auth, crypto, events
from ..idp.extensions import db
from ..idp.hooks import LEVELS
from ..idp.oidc import authorize
from ..idp.models import Account
from ..idp.sessions import rotate
from ..idp.timeutil import utcnow
from ..idp.upsert import insert_unless_present
from . import client, discovery, levels, tokens
from .models import FederatedIdentity, FederatedSession, UpstreamLogoutToken
from .settings import UpstreamSettings

FLOWS_KEY = "federation_flows"
PENDING_KEY = "federation_pending"
# An upstream sign-in must come back, and a first sign-in be decided, within ten minutes.
FLOW_MAX_AGE = 600
MAX_FLOWS = 5
ID_TOKEN_PURPOSE = "federation-id-token"
# What the Bürgerkonto keeps of the upstream's claims (data minimisation).
KEPT_CLAIMS = ("given_name", "family_name", "name", "birthdate", "place_of_birth", "nationalities",
               "address", "email", "email_verified")
ADDRESS_FIELDS = ("street_address", "postal_code", "locality", "region", "country")
AMR_FEDERATED = "fed"


class Refused(Exception):
    """The upstream sign-in is refused; ``reason`` goes into the security event, ``kind`` picks the page."""

    def __init__(self, reason: str, kind: str = "invalid"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass
class UpstreamSignIn:
    """A validated upstream sign-in, as kept between callback and the citizen's choice."""

    issuer: str
    subject: str
    claims: dict
    acr: str | None
    level: str
    amr: list[str] = field(default_factory=list)
    upstream_sid: str | None = None
    auth_time: int | None = None
    id_token_enc: str | None = None


# --- starting -------------------------------------------------------------------------------------


def begin(settings: UpstreamSettings, next_path: str, locale: str | None) -> str:
    """Remember a new flow in the browser's session; return the upstream authorization URL.

    The level a pending portal request asks for is passed on as ``acr_values``;
    without one, every mapped value is acceptable (weakest first). Sending them
    always makes the upstream state the ``acr`` it reached, which some
    providers (oidc-provider among them) only do when asked.
    """
    # Anyone can open the start address: with a stale copy, a refresh is tried at most once a while
    # (``untrusted``), not once per visit, each of which could hold a worker for a slow upstream's timeout.
    metadata = discovery.metadata(settings, untrusted=True)
    # A new authentication is what a portal's prompt=login or max_age asks for, and what "sign in
    # again" in a signed-in browser is for (a change confirmed by a recent sign-in): the upstream is
    # asked for one, or it answers from its own session, however old, and nobody signs in.
    fresh = auth.current_account() is not None or authorize.asks_for_fresh_sign_in(next_path)
    wanted = levels.requested_level(next_path) or "low"
    acr_values = levels.upstream_acr_values(wanted, settings.acr_map, metadata.get("acr_values_supported"))
    flow = client.new_flow_secrets()
    flows = {state: item for state, item in (session.get(FLOWS_KEY) or {}).items()
             if time.time() - item.get("at", 0) < FLOW_MAX_AGE}
    while len(flows) >= MAX_FLOWS:
        flows.pop(min(flows, key=lambda s: flows[s]["at"]))
    flows[flow["state"]] = {"nonce": flow["nonce"], "verifier": flow["verifier"], "next": next_path,
                            "at": int(time.time()), "issuer": settings.issuer, "acr_values": acr_values,
                            "fresh": fresh}
    session[FLOWS_KEY] = flows
    return client.authorization_url(settings, metadata, flow, acr_values, locale, fresh)


# --- finishing ------------------------------------------------------------------------------------


def _take_flow(state: str | None) -> dict | None:
    """Remove and return the flow for ``state``: each state is good for exactly one callback."""
    flows = dict(session.get(FLOWS_KEY) or {})
    flow = flows.pop(state, None) if isinstance(state, str) else None
    if flow is not None:
        session[FLOWS_KEY] = flows
        if time.time() - flow.get("at", 0) >= FLOW_MAX_AGE:
            return None
    return flow


def complete(settings: UpstreamSettings, args) -> tuple[UpstreamSignIn, str]:
    """Check the authorization response, redeem the code, validate the ID token.

    Returns the sign-in and the ``next`` path. Raises ``Refused`` or
    ``discovery.UpstreamUnavailable``.
    """
    flow = _take_flow(args.get("state"))
    if flow is None or flow.get("issuer") != settings.issuer:
        raise Refused("state", kind="state")
    metadata = discovery.metadata(settings)
    # RFC 9207: an upstream that announces the iss parameter must send it, with its own issuer.
    iss = args.get("iss")
    if iss is not None or metadata.get("authorization_response_iss_parameter_supported"):
        if iss != settings.issuer:
            raise Refused("iss-parameter")
    if args.get("error"):
        error = str(args.get("error"))[:60]
        raise Refused(f"error:{error}", kind="cancelled" if error == "access_denied" else "error")
    code = args.get("code")
    if not code or len(code) > 2048:
        raise Refused("code-missing")
    try:
        token = client.exchange_code(settings, metadata, code, flow["verifier"])
    except client.UpstreamRefused as exc:
        raise Refused(f"token-error:{exc.error}", kind="error") from exc
    try:
        claims = tokens.validate_id_token(settings, token["id_token"], flow["nonce"], token["access_token"])
    except tokens.TokenRejected as exc:
        raise Refused(f"id-token:{exc.reason}") from exc
    profile = {name: claims[name] for name in KEPT_CLAIMS if name in claims}
    info = client.userinfo(metadata, token["access_token"])
    if info:
        # OIDC Core 5.3.4: userinfo about someone else is a substitution attack.
        if info.get("sub") != claims["sub"]:
            raise Refused("userinfo-sub")
        profile.update({name: info[name] for name in KEPT_CLAIMS if name in info})
    if flow.get("fresh") and claims.get("auth_time") is None:
        # A new authentication was asked for (prompt=login); only ``auth_time`` shows the upstream made
        # one rather than answering from its session. (Where none was asked for, ``iat`` stands in.)
        raise Refused("id-token:missing_claim:auth_time")
    acr = claims.get("acr")
    result = UpstreamSignIn(
        issuer=settings.issuer,
        subject=claims["sub"],
        claims=_clean_profile(profile),
        acr=acr,
        level=levels.level_for(acr, settings.acr_map) or "low",
        amr=list(dict.fromkeys(claims.get("amr") or [])),
        upstream_sid=claims.get("sid"),
        auth_time=int(claims.get("auth_time") or claims["iat"]),
        id_token_enc=crypto.encrypt(token["id_token"].encode(), ID_TOKEN_PURPOSE),
    )
    return result, flow["next"]


def _clean_profile(profile: dict) -> dict:
    """Keep strings of sane length (and a structured address); drop anything else."""
    clean = {}
    for name, value in profile.items():
        if name == "address" and isinstance(value, dict):
            address = {k: str(v)[:200] for k, v in value.items() if k in ADDRESS_FIELDS and isinstance(v, str)}
            if address:
                clean["address"] = address
        elif name == "email_verified" and isinstance(value, bool):
            clean[name] = value
        elif name == "nationalities" and isinstance(value, list):
            clean[name] = [str(v)[:3] for v in value if isinstance(v, str)][:5]
        elif isinstance(value, str) and value.strip():
            clean[name] = value.strip()[:200]
    return clean


def refuse(exc: Refused) -> None:
    events.record("federation:signin:refused", None, reason=exc.reason)


def unavailable(exc: discovery.UpstreamUnavailable) -> None:
    events.record("federation:upstream:unavailable", None, reason=exc.reason)


# --- after a valid upstream sign-in ------------------------------------------------------------------


def find_identity(issuer: str, subject: str) -> FederatedIdentity | None:
    return FederatedIdentity.query.filter_by(issuer=issuer, subject=subject).first()


def _utc(seconds: float) -> datetime:
    """A Unix time as the naive UTC datetime the columns hold."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _record_proof(identity: FederatedIdentity, result: UpstreamSignIn) -> None:
    """Keep what the upstream asserts at the highest level it has reached for this identity.

    A later, weaker sign-in upstream (password instead of eID) does not undo the
    eID proof, nor replace the eID-read attributes with self-asserted ones.
    """
    identity.last_sign_in_at = utcnow()
    if identity.claims is None or LEVELS.index(result.level) >= LEVELS.index(identity.level or "low"):
        identity.claims = result.claims
        identity.acr = result.acr
        identity.level = result.level
        identity.verified_at = _utc(result.auth_time)


def sign_in(identity: FederatedIdentity, result: UpstreamSignIn):
    """Sign in to the linked Bürgerkonto; the session remembers the upstream sign-in.

    The session's ``amr`` is ``["fed"]`` (RFC 8176 lists no value for it; "fed" is the
    usual one): what the upstream proved counts only through its ``acr`` and the
    operator's mapping (the session level hook). Its own ``amr`` stays on the
    ``FederatedSession``: in the session's ``amr`` an upstream ``mfa`` would pass for
    a second factor here (level, TOTP prompts, postbox) and reach portals as ours. A
    factor the citizen adds here later (TOTP step-up) is added as usual.
    """
    _record_proof(identity, result)
    # The sign-in happened when the upstream authenticated the citizen, not when its answer came:
    # answered from an upstream session an hour old, it is an hour old (``auth_time``, ``max_age``).
    record = auth.sign_in(identity.account, [AMR_FEDERATED], authenticated_at=_utc(result.auth_time),
                          via="federation", acr=result.acr)
    _remember_upstream_sign_in(record.sid, identity, result)
    return record


def _remember_upstream_sign_in(sid: str, identity: FederatedIdentity, result: UpstreamSignIn) -> None:
    """Keep the upstream sign-in on the session's one ``FederatedSession`` (``sid`` is unique).

    The same person signing in again in this browser keeps the session's ``sid``
    (``auth.sign_in``), also after a password sign-in; the new upstream sign-in then
    replaces the earlier one's record: its level reaches the portals, its upstream
    ``sid`` and ``auth_time`` are what an upstream logout is matched against, and its
    ID token is the ``id_token_hint`` for logging out there.
    """
    upstream = {"identity_id": identity.id, "issuer": result.issuer, "upstream_subject": result.subject,
                "upstream_sid": result.upstream_sid, "acr": result.acr, "level": result.level, "amr": result.amr,
                "upstream_auth_time": _utc(result.auth_time), "id_token_enc": result.id_token_enc,
                "ended_at": None}
    # One statement inserts or finds the row, so two callbacks of one browser at once cannot both insert.
    if not insert_unless_present(FederatedSession, sid=sid, **upstream):
        db.session.execute(update(FederatedSession).where(FederatedSession.sid == sid).values(**upstream))


def hold_pending(result: UpstreamSignIn, next_path: str) -> None:
    """A first sign-in: keep the result in the session until the citizen chooses.

    A browser nobody is signed in on gets a new session token first, as at any sign-in: the checked
    identity must not wait under a token from before the upstream round trip, which someone may have
    planted or seen (session fixation: they could open an account on the citizen's eID identity).
    """
    if auth.current_account() is None:
        rotate(current_app, session)
    session[PENDING_KEY] = {"result": asdict(result), "next": next_path, "at": time.time()}


def pending() -> tuple[UpstreamSignIn | None, str | None, int | None]:
    data = session.get(PENDING_KEY)
    if not data or time.time() - data.get("at", 0) >= FLOW_MAX_AGE:
        return None, None, None
    return UpstreamSignIn(**data["result"]), data["next"], data["at"]


def signed_in_since(record, moment: float) -> bool:
    """Whether the session's sign-in happened after ``moment`` (a Unix time with fractions)."""
    if record is None or record.authenticated_at is None:
        return False
    return record.authenticated_at.replace(tzinfo=UTC).timestamp() >= moment


def drop_pending() -> None:
    session.pop(PENDING_KEY, None)


def proposed_email(result: UpstreamSignIn) -> str | None:
    """The upstream's address for a new account: only when the upstream verified it and it is free.

    A taken address is simply left out: an upstream identity is never joined
    to an existing account by its e-mail address.
    """
    email = result.claims.get("email")
    if not email or result.claims.get("email_verified") is not True:
        return None
    try:
        email = accounts.normalise_email(email)
    except accounts.InvalidEmail:
        return None
    return None if accounts.find_by_email(email) is not None else email


def create_account(result: UpstreamSignIn, locale: str | None) -> FederatedIdentity:
    """Create a Bürgerkonto from the upstream data (no password: the upstream is the way in)."""
    claims = result.claims
    email = proposed_email(result)
    name = claims.get("name") or " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)
    address = dict(claims["address"]) if claims.get("address") else None
    account = accounts.create_account(email, None, name or None, verified=email is not None, locale=locale,
                                      given_name=claims.get("given_name"), family_name=claims.get("family_name"),
                                      address=address)
    identity = _link(account, result)
    events.record("federation:account:create", account.id, issuer=result.issuer, level=result.level)
    return identity


def _link(account: Account, result: UpstreamSignIn) -> FederatedIdentity:
    identity = FederatedIdentity(account_id=account.id, account=account, issuer=result.issuer,
                                 subject=result.subject, linked_at=utcnow())
    _record_proof(identity, result)
    db.session.add(identity)
    db.session.flush()
    events.record("federation:link:create", account.id, issuer=result.issuer, level=result.level)
    return identity


class AlreadyLinked(Exception):
    """The account is linked to another identity of the same upstream already."""


def link(account: Account, result: UpstreamSignIn) -> FederatedIdentity:
    if find_identity(result.issuer, result.subject) is not None:
        raise AlreadyLinked()
    if FederatedIdentity.query.filter_by(account_id=account.id, issuer=result.issuer).first() is not None:
        raise AlreadyLinked()
    return _link(account, result)


# --- the link on the account page ---------------------------------------------------------------------


def identities(account: Account) -> list[FederatedIdentity]:
    return FederatedIdentity.query.filter_by(account_id=account.id).order_by(FederatedIdentity.id).all()


def can_sign_in_locally(account: Account) -> bool:
    return bool(account.password_hash and account.email and account.email_verified)


def other_way_in(account: Account, identity: FederatedIdentity) -> bool:
    """Whether the account stays reachable without ``identity``."""
    if can_sign_in_locally(account):
        return True
    return FederatedIdentity.query.filter(FederatedIdentity.account_id == account.id,
                                          FederatedIdentity.id != identity.id).first() is not None


class NoOtherWayIn(Exception):
    """Unlinking would leave the account without any way to sign in."""


def unlink(account: Account, identity_id: int, password: str, ip_address) -> None:
    """Remove a link; needs the password and another way in. Raises ``NoOtherWayIn``/``WrongPassword``."""
    identity = FederatedIdentity.query.filter_by(id=identity_id, account_id=account.id).first()
    if identity is None:
        raise LookupError(identity_id)
    if not other_way_in(account, identity):
        events.record("federation:link:remove_refused", account.id, issuer=identity.issuer)
        raise NoOtherWayIn()
    accounts.verify_current_password(account, password, ip_address)
    FederatedSession.query.filter_by(identity_id=identity.id).delete()
    db.session.delete(identity)
    events.record("federation:link:remove", account.id, issuer=identity.issuer)


def delete_for_account(account: Account) -> None:
    """Account deletion: links and upstream-session records go with it."""
    ids = [identity.id for identity in identities(account)]
    if ids:
        FederatedSession.query.filter(FederatedSession.identity_id.in_(ids)).delete(synchronize_session=False)
        FederatedIdentity.query.filter(FederatedIdentity.id.in_(ids)).delete(synchronize_session=False)


# --- logout -----------------------------------------------------------------------------------------------


def purge_sessions(kept: timedelta = timedelta(days=1)) -> int:
    """Delete upstream sessions (each holds an encrypted upstream ID token) that nothing reads any
    more: ended ``kept`` ago, or whose browser session is gone (``buergerkonto purge``). Only
    unended ones serve the session's level and an upstream logout."""
    from ..idp.models import WebSession

    now = utcnow()
    # The hour spares a row whose browser session is still being committed by a sign-in.
    gone = and_(FederatedSession.created_at < now - timedelta(hours=1),
                ~select(WebSession.id).where(WebSession.sid == FederatedSession.sid).exists())
    return db.session.execute(delete(FederatedSession).where(or_(
        FederatedSession.ended_at < now - kept, gone))).rowcount


def purge_logout_tokens() -> int:
    """Delete the ids of logout tokens that would be refused for their age anyway (``buergerkonto purge``)."""
    return db.session.execute(delete(UpstreamLogoutToken).where(
        UpstreamLogoutToken.expires_at < int(time.time()))).rowcount


def accept_logout_token_once(settings: UpstreamSettings, claims: dict) -> None:
    """Remember a validated logout token's ``jti`` until its age refuses it; a second delivery is a
    replay (``tokens.TokenRejected``). One statement, so two deliveries at once cannot both pass."""
    if not insert_unless_present(UpstreamLogoutToken, issuer=settings.issuer, jti=claims["jti"],
                                 expires_at=tokens.logout_token_expiry(claims)):
        raise tokens.TokenRejected("replay")


def upstream_logout(settings: UpstreamSettings, claims: dict) -> list:
    """End the Bürgerkonto sessions an upstream logout token names (by ``sid``, else by ``sub``).

    Only sessions the upstream authenticated up to the token's ``iat`` (both on the upstream's
    clock): a token delivered late does not end a sign-in that came after the logout.
    """
    from ..idp.models import WebSession

    query = FederatedSession.query.filter_by(issuer=settings.issuer, ended_at=None).filter(or_(
        FederatedSession.upstream_auth_time.is_(None), FederatedSession.upstream_auth_time <= _utc(claims["iat"])))
    if claims.get("sid") is not None:
        query = query.filter_by(upstream_sid=claims["sid"])
        if claims.get("sub"):
            query = query.filter_by(upstream_subject=claims["sub"])
    else:
        query = query.filter_by(upstream_subject=claims["sub"])
    ended = []
    for federated in query.all():
        federated.ended_at = utcnow()
        record = WebSession.query.filter_by(sid=federated.sid).first()
        if record is not None and record.ended_at is None:
            auth.end_session(record, "upstream-logout")
            ended.append(record)
    events.record("federation:backchannel:logout", None, sessions=len(ended))
    return ended


def id_token_for(federated: FederatedSession) -> str | None:
    if not federated.id_token_enc:
        return None
    return crypto.decrypt(federated.id_token_enc, ID_TOKEN_PURPOSE).decode()
