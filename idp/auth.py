"""Who is signed in: binding accounts to server-side sessions, and ending those sessions."""

from datetime import datetime
from functools import wraps

from flask import current_app, g, redirect, request, session, url_for

from . import events
from .extensions import db
from .hooks import hooks
from .models import Account, WebSession
from .sessions import is_live, renew_token, rotate
from .timeutil import utcnow

AMR_PASSWORD = "pwd"
AMR_OTP = "otp"
AMR_MFA = "mfa"


def current_record() -> WebSession | None:
    """The live session record of this browser, if any."""
    return getattr(session, "record", None)


def current_account() -> Account | None:
    """The citizen signed in on this browser (never a staff session)."""
    record = current_record()
    if record is None or record.kind != "citizen" or record.account_id is None:
        return None
    if record.ended_at is not None or record.authenticated_at is None:
        return None
    return record.account


def sign_in(account: Account, amr: list[str], kind: str = "citizen", authenticated_at: datetime | None = None,
            **details) -> WebSession:
    """Start a signed-in session for ``account``: new session id, auth time, methods used.

    ``authenticated_at``: when another provider authenticated the citizen, if earlier than now.

    The same person signing in again in this browser (``prompt=login``,
    ``max_age``) keeps the session record and its ``sid`` under a new cookie
    token, so the portals they are signed in to stay signed in; anyone else
    ends the previous sign-in first (its portals are told).
    """
    previous = current_record()
    if (previous is not None and previous.ended_at is None and previous.kind == kind
            and previous.account_id == account.id and previous.authenticated_at is not None):
        record = renew_token(session)
    else:
        if previous is not None and previous.account_id is not None and previous.ended_at is None:
            end_session(previous, "replaced-by-sign-in")
            g.setdefault("ended_sessions", []).append(previous)
        record = rotate(current_app, session, kind)
    record.account_id = account.id
    record.account = account
    now = utcnow()
    record.authenticated_at = min(authenticated_at, now) if authenticated_at is not None else now
    record.amr = amr_with_mfa(amr)
    session.pop("pending_second_factor", None)
    events.record(f"{'staff' if kind == 'staff' else 'account'}:login:success", account.id,
                  amr=record.amr, sid=record.sid, **details)
    return record


def amr_with_mfa(amr: list[str]) -> list[str]:
    """Add ``mfa`` (RFC 8176) when more than one factor was used."""
    methods = [m for m in dict.fromkeys(amr) if m != AMR_MFA]
    if len(methods) > 1:
        methods.append(AMR_MFA)
    return methods


def add_factor(record: WebSession, method: str) -> None:
    """Step-up within a session: record another factor (the auth time stays the first sign-in's).

    The session is worth more now, so it gets a new cookie token (ASVS V7.2.4): a token copied
    before the step-up does not inherit the second factor. The record and its ``sid`` stay.
    """
    renew_token(session)
    record.amr = amr_with_mfa(list(record.amr or []) + [method])


def auth_time(record: WebSession) -> datetime | None:
    return record.authenticated_at


def end_session(record: WebSession, reason: str) -> None:
    """End one session; the parts are told (OIDC back-channel logout) after commit."""
    if record.ended_at is not None:
        return
    record.ended_at = utcnow()
    if record.account_id is not None:
        events.record("account:session:end", record.account_id, sid=record.sid, reason=reason)
        for handler in hooks().session_ended:
            handler(record, reason)


def end_all_sessions(account_id: int, reason: str, keep: WebSession | None = None) -> list[WebSession]:
    """End every live session of an account (``keep`` excepted)."""
    ended = []
    for record in WebSession.query.filter_by(account_id=account_id, ended_at=None).all():
        if keep is not None and record.id == keep.id:
            continue
        end_session(record, reason)
        ended.append(record)
    return ended


def notify_ended(records: list[WebSession]) -> None:
    """After commit: let the parts act on ended sessions (send logout tokens)."""
    for handler in hooks().after_sessions_ended:
        handler(records)


def sign_out() -> WebSession | None:
    """End this browser's session and start a fresh, anonymous one."""
    record = current_record()
    if record is not None:
        end_session(record, "logout")
    # The chosen language is a display preference, not part of the sign-in: the
    # signed-out page and the next sign-in stay in it.
    locale = session.get("locale")
    session.clear()
    if locale is not None:
        session["locale"] = locale
    session.record = None
    session.token = None
    return record


def live_sessions(account_id: int) -> list[WebSession]:
    now = utcnow()
    records = (
        WebSession.query.filter_by(account_id=account_id, ended_at=None)
        .filter(WebSession.expires_at > now)
        .order_by(WebSession.last_seen_at.desc())
        .all()
    )
    return [record for record in records if is_live(current_app, record, now)]


def login_required(view):
    """Send anonymous visitors to the sign-in page and back afterwards."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def notify_ended_after_request(response):
    """Tell the parts about sessions a sign-in replaced, once the view has committed."""
    ended = g.pop("ended_sessions", None)
    if ended and response.status_code < 400:
        notify_ended(ended)
    return response


def commit_and_notify(ended: list[WebSession]) -> None:
    """Commit ended sessions, then run the after-end hooks."""
    db.session.commit()
    if ended:
        notify_ended(ended)
