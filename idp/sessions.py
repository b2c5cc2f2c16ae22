"""Server-side browser sessions, stored in the database.

The cookie carries only a random token; the database keeps its SHA-256, the
session's data and who is signed in. So sessions can be listed and ended on
the account page, survive a restart, and are shared by every app instance.
Idle and absolute timeouts are enforced on every request.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import g, has_request_context, request, session as flask_session
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import and_, bindparam, delete, event, insert, inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import CallbackDict

from .crypto import sha256_hex
from .extensions import db
from .models import WebSession
from .timeutil import utcnow
from .web import MACHINE_PATHS

# How stale ``last_seen_at`` may get before an unchanged session is written
# again; keeps most requests free of writes while idle timeouts stay exact enough.
_TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class Lapsed:
    """A signed-in session the browser's cookie still names, but which is over.

    ``reason`` is what ended it first: ``idle`` (no request for the idle timeout), ``lifetime``
    (the absolute timeout) or ``ended`` (signed out, ended on the account page, account deleted).
    It lets a form sent after the end be answered with why it was refused; it carries no data.
    """

    kind: str
    reason: str


class ServerSession(CallbackDict, SessionMixin):
    """Session data plus the database record behind it (``None`` until first saved)."""

    def __init__(self, initial=None, record: WebSession | None = None, token: str | None = None,
                 lapsed: Lapsed | None = None):
        def on_update(self):
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.record = record
        self.token = token
        self.modified = False
        self.rotated = False
        self.lapsed = lapsed
        self.cookie_due = False  # the record was written in this request: the cookie goes out with the response


def idle_timeout(app, kind: str) -> timedelta:
    return app.config["STAFF_SESSION_IDLE_TIMEOUT" if kind == "staff" else "SESSION_IDLE_TIMEOUT"]


def is_live(app, record: WebSession, now=None) -> bool:
    """Whether ``record`` is neither ended, past its absolute lifetime, nor idle too long."""
    return lapse_reason(app, record, now) is None


def lapse_reason(app, record: WebSession, now=None) -> str | None:
    """Why ``record`` is over: ``idle``, ``lifetime`` or ``ended``; ``None`` while it is live.

    The earliest end counts: a session that ``sessions expire`` ended after it went idle ended by idleness.
    """
    now = now or utcnow()
    ends = {"idle": record.last_seen_at + idle_timeout(app, record.kind), "lifetime": record.expires_at}
    if record.ended_at is not None:
        ends["ended"] = record.ended_at
    elif min(ends.values()) > now:
        return None
    return min(ends, key=ends.get)


def idle_deadline(app, session: ServerSession, now: datetime) -> datetime:
    """When this browser's session will end for inactivity, counting this request as it will be saved."""
    last_seen = now if _due_for_write(session, now) else session.record.last_seen_at
    return last_seen + idle_timeout(app, session.record.kind)


def _due_for_write(session: ServerSession, now: datetime) -> bool:
    """A changed session is written; an unchanged one only once ``last_seen_at`` is stale (the idle clock)."""
    return session.modified or session.rotated or now - session.record.last_seen_at >= _TOUCH_INTERVAL


# What outlives a session that is over: the language the citizen chose (the page saying the session
# expired, and the sign-in after it, stay in it). Nothing that identifies anyone.
_CARRIED_OVER = ("locale",)


# Every browser request reads its session: built once (with the account, which nearly every page of a
# signed-in session needs). Building the ORM query per request doubled the read's CPU (0.45 → 1.0 ms).
_BY_TOKEN_HASH = (select(WebSession).options(joinedload(WebSession.account))
                  .where(WebSession.token_hash == bindparam("token_hash")))


def _carried_over(record: WebSession) -> dict:
    data = record.data or {}
    return {key: data[key] for key in _CARRIED_OVER if key in data}


class DatabaseSessionInterface(SessionInterface):
    """Flask session interface over the ``web_session`` table."""

    def open_session(self, app, request):
        if request.path.startswith(MACHINE_PATHS):
            return ServerSession()  # portals' server-to-server calls: a browser session means nothing there
        token = request.cookies.get(self.get_cookie_name(app))
        if token and len(token) <= 128:
            record = db.session.execute(_BY_TOKEN_HASH, {"token_hash": sha256_hex(token)}).scalar_one_or_none()
            if record is not None:
                reason = lapse_reason(app, record)
                if reason is None:
                    return ServerSession(dict(record.data or {}), record=record, token=token)
                carried = _carried_over(record)
                if record.authenticated_at is not None:
                    return ServerSession(carried, lapsed=Lapsed(record.kind, reason))
                return ServerSession(carried)
        return ServerSession()

    def save_session(self, app, session: ServerSession, response):
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.record is None and not session:
            if session.modified:
                response.delete_cookie(name, domain=domain, path=path)
            return
        now = utcnow()
        record = session.record
        if record is None:
            # A new browser session (a first visit to the sign-in page): one INSERT built once, as
            # nothing reads the record back in this request.
            session.token = secrets.token_urlsafe(32)
            db.session.execute(_INSERT, {**_new_values(app, session.token, now), "data": dict(session)})
            session.modified = False
            session.cookie_due = True
            _commit()
        elif _due_for_write(session, now):
            # Written here unless the request's own commit already took it along (_write_with_the_request).
            _write(session, record, now)
            _commit()
        if not session.cookie_due:
            return
        response.set_cookie(
            name,
            session.token,
            httponly=self.get_cookie_httponly(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            domain=domain,
            path=path,
        )
        response.vary.add("Cookie")


def _commit() -> None:
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise


def _write(session: ServerSession, record: WebSession, now: datetime) -> None:
    record.data = dict(session)
    record.last_seen_at = now
    session.modified = session.rotated = False
    session.cookie_due = True


@event.listens_for(db.session, "before_commit")
def _write_with_the_request(db_session) -> None:
    """A request that commits its own changes takes its browser session's changes along.

    Otherwise ``save_session`` writes them after the view, in a transaction of its own: at every
    sign-in one UPDATE of the record the view had just rotated, and a BEGIN and COMMIT around it.
    Only a record this database session holds is written; one its request deleted, or a session
    of another thread or of no request, is left alone.
    """
    if not has_request_context():
        return
    session = flask_session._get_current_object()
    record = getattr(session, "record", None)
    if record is None or record not in db_session or inspect(record).deleted:
        return
    now = utcnow()
    if _due_for_write(session, now):
        _write(session, record, now)


_INSERT = insert(WebSession.__table__)


def new_record(app, token: str, now, kind: str = "citizen") -> WebSession:
    return WebSession(**_new_values(app, token, now, kind))


def _new_values(app, token: str, now, kind: str = "citizen") -> dict:
    return {
        "token_hash": sha256_hex(token),
        "sid": secrets.token_urlsafe(32),
        "kind": kind,
        "data": {},
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + app.config["SESSION_ABSOLUTE_TIMEOUT"],
        "user_agent": (request.user_agent.string or "")[:255] or None,
        "ip_address": request.remote_addr,
    }


def renew_token(session: ServerSession) -> WebSession:
    """A new cookie token for the same session record (re-authentication of the same person).

    The browser's old token stops working at once; the record, and with it the
    OIDC ``sid`` that portals hold, stays.
    """
    session.token = secrets.token_urlsafe(32)
    session.record.token_hash = sha256_hex(session.token)
    _renew_csrf(session)
    return session.record


def _renew_csrf(session: ServerSession) -> None:
    """A new session id gets a new CSRF token, and the session is written with its new cookie."""
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)  # Flask-WTF caches the token per request
    session.rotated = True
    session.modified = True


def rotate(app, session: ServerSession, kind: str = "citizen") -> WebSession:
    """Give the browser a new session id (at every sign-in): a new token and ``sid``.

    A record someone was signed in on is ended and a new one starts; an
    anonymous one is renewed in place. The data the browser carried into the
    sign-in (such as a pending authorization request) moves along; the CSRF
    token is renewed.
    """
    now = utcnow()
    previous = session.record
    session.token = secrets.token_urlsafe(32)
    if previous is not None and previous.account_id is None and previous.ended_at is None:
        # Nobody was signed in on this record: it serves on under the new token and a new sid,
        # as if new (one UPDATE instead of ending it and inserting another).
        previous.token_hash = sha256_hex(session.token)
        previous.sid = secrets.token_urlsafe(32)
        previous.kind = kind
        previous.created_at = previous.last_seen_at = now
        previous.expires_at = now + app.config["SESSION_ABSOLUTE_TIMEOUT"]
    else:
        if previous is not None:
            previous.ended_at = previous.ended_at or now
            # The data moves to the new record; the ended one keeps none (it may hold an address).
            previous.data = {}
        session.record = new_record(app, session.token, now, kind)
        db.session.add(session.record)
    _renew_csrf(session)
    return session.record


def purge_dead(signed_in_kept: timedelta, anonymous_kept: timedelta = timedelta(days=1)) -> int:
    """Delete session rows that ended or expired long enough ago (``buergerkonto purge``); caller commits.

    A signed-in session is kept ``signed_in_kept`` after its end: a portal's refresh tokens may still
    name its ``sid`` (the level of ``verified_claims`` is read from it), and the citizen's data export
    lists it. A session that never signed in (every visit to the sign-in page makes one) matters to nobody
    once it is over.
    """
    now = utcnow()

    def dead_before(moment):
        return or_(WebSession.ended_at < moment, WebSession.expires_at < moment)

    return db.session.execute(delete(WebSession).where(or_(
        and_(WebSession.account_id.is_(None), dead_before(now - anonymous_kept)),
        dead_before(now - signed_in_kept)))).rowcount
