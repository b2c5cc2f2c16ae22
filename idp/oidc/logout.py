"""Single logout: RP-Initiated Logout 1.0 and Back-Channel Logout 1.0.

Whenever a signed-in session ends (sign-out here or at a portal, "sign out
everywhere", password change or reset, account deletion, expiry), the
``session_ended`` hook writes one delivery row per portal that session signed
into, in the same transaction. After the commit, ``after_sessions_ended``
sends the logout tokens: short timeouts, no redirects, only to the URI the
operator registered, a bounded number of attempts. Rows still pending are
retried by ``buergerkonto sessions expire`` / ``buergerkonto logout deliver``.

A portal decides how fast its endpoint answers. One sending a byte every few
seconds stays within any per-read timeout, and one answering with an endless
body would fill the memory of whoever reads it. So the answer's body is never
read, and the request that ends a session waits for its deliveries a bounded
time in all (``_send_all``); a delivery still under way then goes on in its own
thread and counts as failed, for ``logout deliver`` to retry. A portal has at
most ``MAX_IN_FLIGHT`` deliveries under way per process: a stalling one cannot
gather threads without end.
"""

import threading
import time
import uuid
from collections import Counter

import requests
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, redirect, render_template, request
from flask_wtf.csrf import CSRFError, validate_csrf
from joserfc import jwt
from sqlalchemy import delete, update
from wtforms import ValidationError

from .. import auth
from ..extensions import csrf, db
from ..forms import EmptyForm
from ..models import Account, WebSession
from ..timeutil import utcnow
from . import claims, keys, sids
from .models import AuthorizationCode, Client, LogoutDelivery, PortalSignIn, Token
from .server import server

bp = Blueprint("oidc_logout", __name__, template_folder="templates")

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
IN_REQUEST_ATTEMPTS = 2
MAX_IN_FLIGHT = 4  # deliveries under way to one logout URI in this process
PARALLEL = 16  # deliveries sent at once by one call (``logout deliver`` may have hundreds)
STILL_SENDING = "no answer in time"
PORTAL_BUSY = "earlier deliveries to this portal still under way"

_in_flight: Counter = Counter()
_in_flight_lock = threading.Lock()


# --- RP-initiated logout ----------------------------------------------------------------

@bp.route("/end-session", methods=["GET", "POST"])
@csrf.exempt  # portals may POST; the confirmation form is CSRF-checked below
def end_session():
    try:
        validated = server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        db.session.rollback()
        return render_template("oidc/logout_error.html", description=error.get_error_description()), 400
    account = auth.current_account()
    hint = validated.id_token_claims
    confirmed = False
    if request.method == "POST" and request.form.get("confirm") == "1":
        try:
            validate_csrf(request.form.get("csrf_token"))
            confirmed = True
        except (ValidationError, CSRFError):
            confirmed = False
    matches = account is not None and hint is not None and validated.client is not None and \
        hint.get("sub") == claims.subject_for(validated.client, account) and \
        _hint_names_this_session(hint, validated.client)
    if account is not None and not (matches or confirmed):
        # Without a hint for this citizen's session, ask first (RP-Initiated Logout §6).
        return render_template("oidc/logout_confirm.html", form=EmptyForm(), client=validated.client,
                               params=[(k, v) for k, v in request.values.items(multi=True)
                                       if k not in ("csrf_token", "confirm")]), 200
    if account is not None:
        record = auth.sign_out()
        auth.commit_and_notify([record] if record is not None else [])
    if validated.redirect_uri:
        return redirect(validated.redirect_uri)
    client = validated.client
    return render_template("oidc/logged_out.html", client=client), 200


def _hint_names_this_session(hint: dict, client: Client) -> bool:
    """The hint's ``sid``, if it has one, is this browser session's as the portal knows it: an ID
    token of an earlier session of the same citizen is no reason to end this one unasked."""
    record = auth.current_record()
    return "sid" not in hint or (record is not None and hint["sid"] == sids.portal_sid(client, record.sid))


# --- back-channel logout ----------------------------------------------------------------

def on_session_ended(record: WebSession, reason: str) -> None:
    """Hook: queue logout tokens for every portal the session (and earlier rotated ones) signed into."""
    if record.account_id is None:
        return
    rows = PortalSignIn.query.filter_by(account_id=record.account_id, ended_at=None).all()
    ended_sids = {record.sid}
    others = {row.sid for row in rows} - ended_sids
    if others:
        # Sessions rotated away at a re-sign-in ended without the hook: tell their portals now.
        ended_sids |= {s.sid for s in WebSession.query.filter(WebSession.sid.in_(others),
                                                               WebSession.ended_at.isnot(None))}
    end_portal_access(record.account_id, ended_sids)
    account = db.session.get(Account, record.account_id)
    now = utcnow()
    for row in rows:
        if row.sid not in ended_sids:
            continue
        row.ended_at = now
        client = row.client
        if client is None or not client.backchannel_logout_uri or account is None:
            continue
        db.session.add(LogoutDelivery(client_id=client.client_id, sid=row.sid,
                                      subject=claims.subject_for(client, account)))


def end_portal_access(account_id: int, sids) -> None:
    """Revoke the access tokens that portals got from these sign-ins (README: they end at sign-out),
    and drop the codes not yet redeemed.

    A code issued a moment before the sign-out could still be redeemed for its minute: the portal got
    an access token that outlived the sign-out, and an ID token naming a ``sid`` whose logout token it
    had already been sent, so it opened a session no logout would end. Dropped, it is refused like any
    unknown code (``invalid_grant``).

    Refresh tokens stay: they exist only for ``offline_access``, which the citizen granted to
    outlive the sign-in (Back-Channel Logout 1.0 §2.7); the portal's next refresh gets a new
    access token. Only stored (opaque) tokens carry a ``sid``: JWT access tokens are issued to
    portals acting for themselves (client credentials, ``access_tokens.issues_jwt``), never from
    a citizen's sign-in, so no JWT has to go on the revocation list here.
    """
    now = int(time.time())
    db.session.execute(
        update(Token)
        .where(Token.account_id == account_id, Token.sid.in_(list(sids)), Token.access_token_revoked_at == 0,
               Token.issued_at + Token.expires_in >= now)  # expired ones need no revocation
        .values(access_token_revoked_at=now)
        .execution_options(synchronize_session=False))
    db.session.execute(
        delete(AuthorizationCode)
        .where(AuthorizationCode.account_id == account_id, AuthorizationCode.sid.in_(list(sids)),
               AuthorizationCode.used_at.is_(None))
        .execution_options(synchronize_session=False))


def after_sessions_ended(records) -> None:
    """Hook: after commit, deliver the queued logout tokens of these sessions."""
    sids = {record.sid for record in records if record is not None}
    if sids:
        deliver_pending(sids=sids, attempts=IN_REQUEST_ATTEMPTS)


def logout_token(client: Client, subject: str, sid: str) -> str:
    """A Back-Channel Logout 1.0 logout token: ``typ`` logout+jwt, ``events``, ``sid`` (the session's,
    as this portal's ID tokens name it: ``sids``), no ``nonce``."""
    now = int(time.time())
    key = keys.active_key(client.id_token_signed_response_alg)
    payload = {"iss": current_app.config["ISSUER"], "aud": client.client_id, "iat": now,
               "exp": now + current_app.config["OIDC_LOGOUT_TOKEN_LIFETIME"], "jti": str(uuid.uuid4()),
               "sub": subject, "sid": sids.portal_sid(client, sid), "events": {BACKCHANNEL_EVENT: {}}}
    header = {"alg": key.alg, "kid": key.kid, "typ": "logout+jwt"}
    return jwt.encode(header, payload, keys.private_key(key), algorithms=[key.alg])


def _post(uri: str, token: str, timeout: float) -> str | None:
    """Send one logout token; ``None`` on success, else a short reason. The status line is all
    that is read of the answer (``stream=True``, closed unread)."""
    try:
        with requests.post(uri, data={"logout_token": token}, timeout=(timeout, timeout), stream=True,
                           allow_redirects=False,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
            status = response.status_code
    except requests.RequestException as exc:
        return type(exc).__name__
    if status == 200 or status == 204:
        return None
    return f"HTTP {status}"


def _send_all(jobs: list[tuple[str, str]], attempts: int, timeout: float) -> list[str | None]:
    """Send each ``(uri, token)`` on a thread of its own; wait for all of them at most about
    ``attempts × timeout`` seconds. Returns each one's ``_post`` result, ``STILL_SENDING`` for one
    that had not finished by then, ``PORTAL_BUSY`` for one not started (``MAX_IN_FLIGHT``)."""
    results: list[str | None] = [STILL_SENDING] * len(jobs)
    finished = threading.Condition()
    running = 0

    def send(index: int, uri: str, token: str) -> None:
        nonlocal running
        error: str | None = "not sent"  # (what stays if _post raised something unforeseen)
        try:
            for attempt in range(attempts):
                error = _post(uri, token, timeout)
                if error is None:
                    break
                if attempt + 1 < attempts:
                    time.sleep(0.2 * (attempt + 1))
        finally:
            with _in_flight_lock:
                _in_flight[uri] -= 1
            with finished:
                results[index] = error
                running -= 1
                finished.notify_all()

    for index, (uri, token) in enumerate(jobs):
        with _in_flight_lock:
            if _in_flight[uri] >= MAX_IN_FLIGHT:
                results[index] = PORTAL_BUSY
                continue
            _in_flight[uri] += 1
        with finished:
            running += 1
        # A daemon thread: one a portal keeps waiting must not hold up the process's exit either.
        threading.Thread(target=send, args=(index, uri, token), daemon=True,
                         name="buergerkonto-backchannel-logout").start()
    deadline = attempts * (timeout + 0.5)
    with finished:
        finished.wait_for(lambda: running == 0, timeout=deadline)
        return list(results)


def deliver_pending(sids=None, attempts: int = 1, limit: int = 500) -> int:
    """Send pending logout tokens (all, or those of ``sids``); returns how many were delivered."""
    config = current_app.config
    query = LogoutDelivery.query.filter(LogoutDelivery.delivered_at.is_(None),
                                        LogoutDelivery.abandoned_at.is_(None))
    if sids is not None:
        query = query.filter(LogoutDelivery.sid.in_(list(sids)))
    rows = query.order_by(LogoutDelivery.id).limit(limit).all()
    jobs = []
    for row in rows:
        client = Client.query.filter_by(client_id=row.client_id).first()
        uri = client.backchannel_logout_uri if client else None
        if not uri:
            row.abandoned_at, row.last_error = utcnow(), "no registered URI"
            continue
        jobs.append((row, uri, logout_token(client, row.subject, row.sid)))
    if not jobs:
        db.session.commit()
        return 0
    results = []
    for start in range(0, len(jobs), PARALLEL):
        results += _send_all([(uri, token) for _row, uri, token in jobs[start:start + PARALLEL]], attempts,
                             float(config["OIDC_BACKCHANNEL_TIMEOUT"]))
    delivered = 0
    for (row, _uri, _token), error in zip(jobs, results):
        if error == PORTAL_BUSY:  # not tried: no attempt counts
            row.last_error = error
            continue
        row.attempts += attempts
        if error is None:
            row.delivered_at, row.last_error = utcnow(), None
            delivered += 1
        else:
            row.last_error = error[:255]
            if row.attempts >= config["OIDC_BACKCHANNEL_MAX_ATTEMPTS"]:
                row.abandoned_at = utcnow()
    db.session.commit()
    return delivered


def expire_sessions(limit: int = 1000) -> int:
    """End sessions past their idle or absolute timeout, so that their portals are told."""
    from ..sessions import is_live

    now = utcnow()
    candidates = (WebSession.query.filter(WebSession.ended_at.is_(None), WebSession.account_id.isnot(None))
                  .order_by(WebSession.last_seen_at).limit(limit * 4).all())
    ended = [record for record in candidates if not is_live(current_app, record, now)][:limit]
    for record in ended:
        auth.end_session(record, "expired")
    auth.commit_and_notify(ended)
    return len(ended)

