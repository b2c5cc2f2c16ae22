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
for ``buergerkonto mail deliver``; a delivered message is never sent twice and
its body (which may hold a link) is cleared.
"""

import secrets
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import idna

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import update
from sqlalchemy.engine import make_url

from . import aftercommit, courier
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


def deliver_pending(ids=None, limit: int = 100) -> int:
    """Deliver pending messages (up to ``limit``, or all of ``ids``); return how many went out."""
    db.session.rollback()  # start from what is committed
    query = MailOutbox.query.filter(MailOutbox.sent_at.is_(None))
    if ids is not None:
        ids = list(ids)
        query = query.filter(MailOutbox.id.in_(ids))
        limit = len(ids)
    sent = 0
    for message in query.order_by(MailOutbox.id).limit(limit).all():
        recipient, subject, body = message.recipient, message.subject, message.body
        # Claim the row first so that two workers (the courier, `mail deliver`) never send the same message.
        claimed = db.session.execute(
            update(MailOutbox)
            .where(MailOutbox.id == message.id, MailOutbox.sent_at.is_(None))
            .values(sent_at=utcnow(), attempts=MailOutbox.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if not claimed:
            continue
        try:
            _send(recipient, subject, body)
        except (OSError, smtplib.SMTPException) as exc:
            current_app.logger.warning("mail %s not delivered: %s", message.id, type(exc).__name__)
            db.session.execute(
                update(MailOutbox)
                .where(MailOutbox.id == message.id)
                .values(sent_at=None, last_error=type(exc).__name__)
                .execution_options(synchronize_session=False)
            )
        else:
            db.session.execute(
                update(MailOutbox)
                .where(MailOutbox.id == message.id)
                .values(body="", last_error=None)
                .execution_options(synchronize_session=False)
            )
            sent += 1
        db.session.commit()
    return sent


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


def _build(recipient: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = _ascii_domain(recipient)
    message["Subject"] = subject
    # Not email.utils.make_msgid: it draws from the process-wide ``random`` generator, which the courier
    # thread would then advance behind the back of whatever else in the process uses it (Hypothesis
    # in the tests takes that for a strategy using ``random``).
    message["Message-ID"] = f"<{secrets.token_hex(16)}@buergerkonto.invalid>"
    message.set_content(body)
    return message


def _send(recipient: str, subject: str, body: str) -> None:
    config = current_app.config
    message = _build(recipient, subject, body)
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
