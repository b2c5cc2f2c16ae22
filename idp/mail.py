"""Outgoing mail: queued in the database with the change that causes it, delivered after commit.

``queue`` writes an outbox row in the caller's transaction. Once a request's
transaction has committed, the row's id goes to the app's background courier
(``courier``), which delivers it off the request path: the response does not
wait for the mail server. With ``MAIL_DELIVERY = "inline"`` the request
delivers it itself after its commit instead, for servers that cannot run a
background thread. Mail queued outside a request (the CLI) is delivered by
the command that queued it, or by ``buergerkonto mail deliver``.

Delivery goes over SMTP (smtplib, settings from the configuration) or, in
demo mode (``MAIL_DIR``), into ``.eml`` files. A failed delivery stays pending
for ``buergerkonto mail deliver``; a delivered message is not sent again and its
body (which may hold a link) is cleared.

A deliverer claims a message in the database before it sends it and marks it
sent only once the mail server took it. A deliverer that dies in between
(killed, restarted) leaves a claim and no delivery: once the claim is older than
any send can take (``stale_claim_age``), the next run claims the message again.
Losing a confirmation or reset mail is worse than sending it twice, and the
rare second copy carries the same Message-ID, so mail programs show one.
"""

import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import idna

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import and_, or_, update
from sqlalchemy.engine import make_url

from . import aftercommit, courier
from .crypto import keyed_hash
from .extensions import db
from .models import MailOutbox
from .timeutil import utcnow


def queue(recipient: str, subject: str, body: str) -> MailOutbox:
    """Add a message to the outbox in the current transaction; a request's is delivered after commit."""
    message = MailOutbox(recipient=recipient, subject=subject, body=body)
    db.session.add(message)
    db.session.flush()
    if has_request_context():
        app, ident = current_app._get_current_object(), message.id
        if delivers_in_background(app):
            aftercommit.on_commit(lambda: courier.courier_for(app, deliver_pending).submit([ident]))
        else:
            aftercommit.on_commit(lambda: g.setdefault("queued_mail", []).append(ident))
    return message


def delivers_in_background(app: Flask) -> bool:
    """Whether the courier delivers: ``MAIL_DELIVERY``, unless the database exists only in this
    connection (in-memory SQLite), where the courier's own connection would see an empty one."""
    if app.config["MAIL_DELIVERY"] != "background":
        return False
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


def deliver_queued_after_request(response):
    """Inline delivery: after the view committed, deliver what it queued (rolled-back mail never got here)."""
    ids = g.pop("queued_mail", None)
    if ids:
        deliver_pending(ids)
    return response


def stale_claim_age(app: Flask) -> timedelta:
    """How old a claim must be to count as left by a deliverer that died: far longer than a send
    takes (each SMTP step waits ``SMTP_TIMEOUT`` at most), so a slow send is not taken over."""
    return max(timedelta(minutes=15), 20 * timedelta(seconds=app.config["SMTP_TIMEOUT"]))


def _claimable(now: datetime):
    """Not sent, and not claimed by a deliverer that may still be sending it."""
    return and_(MailOutbox.sent_at.is_(None),
                or_(MailOutbox.claimed_at.is_(None), MailOutbox.claimed_at < now - stale_claim_age(current_app)))


def deliver_pending(ids=None, limit: int = 100) -> int:
    """Deliver pending messages (up to ``limit``, or all of ``ids``); return how many went out."""
    db.session.rollback()  # start from what is committed
    query = MailOutbox.query.filter(_claimable(utcnow()))
    if ids is not None:
        ids = list(ids)
        query = query.filter(MailOutbox.id.in_(ids))
        limit = len(ids)
    sent = 0
    for message in query.order_by(MailOutbox.id).limit(limit).all():
        ident, recipient, subject, body = message.id, message.recipient, message.subject, message.body
        # Claim the row first so that two deliverers (the courier, `mail deliver`) never send it both.
        now = utcnow()
        claimed = _set(ident, _claimable(now), claimed_at=now, attempts=MailOutbox.attempts + 1)
        db.session.commit()
        if not claimed:
            continue
        try:
            _send(recipient, subject, body, ident)
        except (OSError, smtplib.SMTPException) as exc:
            current_app.logger.warning("mail %s not delivered: %s", ident, type(exc).__name__)
            _set(ident, claimed_at=None, last_error=type(exc).__name__)
        else:
            # Sent only now: a deliverer killed before this line leaves a claim, taken back later.
            _set(ident, sent_at=utcnow(), body="", last_error=None)
            sent += 1
        db.session.commit()
    return sent


def _set(ident: int, *conditions, **values) -> int:
    """UPDATE one outbox row (under ``conditions``); the number of rows changed."""
    return db.session.execute(update(MailOutbox).where(MailOutbox.id == ident, *conditions).values(**values)
                              .execution_options(synchronize_session=False)).rowcount


def _ascii_domain(recipient: str) -> str:
    """The address with its domain in IDNA (``xn--``) form, which every mail server accepts.

    Addresses are stored with Unicode domains (``anna@bücher.example``); only a
    non-ASCII local part still needs a server that speaks SMTPUTF8.
    """
    local, at, domain = recipient.rpartition("@")
    if not at or domain.isascii():
        return recipient
    try:
        # IDNA 2008 (the ``idna`` package, as email-validator uses), not Python's IDNA 2003 codec.
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except (idna.IDNAError, UnicodeError):
        return recipient


def _build(recipient: str, subject: str, body: str, ident: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = _ascii_domain(recipient)
    message["Subject"] = subject
    # One Message-ID per outbox row, so that a copy sent again after a deliverer died mid-send is
    # shown as the same message. Keyed: it does not tell how many mails the service has sent.
    message["Message-ID"] = f"<{keyed_hash(str(ident), 'mail-message-id')[:32]}@buergerkonto.invalid>"
    message.set_content(body)
    return message


def _send(recipient: str, subject: str, body: str, ident: int) -> None:
    config = current_app.config
    message = _build(recipient, subject, body, ident)
    if config.get("MAIL_DIR"):
        folder = Path(config["MAIL_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        (folder / f"{stamp}.eml").write_bytes(bytes(message))
        return
    timeout = config["SMTP_TIMEOUT"]
    if config["SMTP_SSL"]:
        client = smtplib.SMTP_SSL(config["SMTP_HOST"], config["SMTP_PORT"], timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=timeout)
    with client:
        if config["SMTP_STARTTLS"] and not config["SMTP_SSL"]:
            client.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USERNAME"):
            client.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
        client.send_message(message)
