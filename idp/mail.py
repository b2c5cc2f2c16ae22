"""Outgoing mail: queued in the database with the change that causes it, delivered after commit.

Delivery goes over SMTP (smtplib, settings from the configuration) or, in
demo mode (``MAIL_DIR``), into ``.eml`` files. A failed delivery stays pending
for ``buergerkonto mail deliver``; a delivered message is never sent twice and
its body (which may hold a link) is cleared.
"""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import idna

from flask import current_app, g, has_request_context
from sqlalchemy import update

from .extensions import db
from .models import MailOutbox
from .timeutil import utcnow


def queue(recipient: str, subject: str, body: str) -> MailOutbox:
    """Add a message to the outbox in the current transaction."""
    message = MailOutbox(recipient=recipient, subject=subject, body=body)
    db.session.add(message)
    db.session.flush()
    if has_request_context():
        g.setdefault("queued_mail", []).append(message.id)
    return message


def deliver_queued_after_request(response):
    """After the view committed, deliver what it queued (rolled-back mail is simply gone)."""
    ids = g.pop("queued_mail", None)
    if ids:
        deliver_pending(ids)
    return response


def deliver_pending(ids=None, limit: int = 100) -> int:
    """Deliver pending messages (all, or those with ``ids``); return how many went out."""
    db.session.rollback()  # start from what is committed
    query = MailOutbox.query.filter(MailOutbox.sent_at.is_(None))
    if ids is not None:
        query = query.filter(MailOutbox.id.in_(ids))
    sent = 0
    for message in query.order_by(MailOutbox.id).limit(limit).all():
        # Claim the row first so that two workers never send the same message.
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
            _send(message.recipient, message.subject, message.body)
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
    message["Message-ID"] = make_msgid(domain="buergerkonto.invalid")
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
