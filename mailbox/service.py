"""The postbox's use cases, shared by the API, the pages and the CLI.

Callers own the transaction: the functions add, change and flush, the view
or command commits (events and the notification mail commit with the change).
"""

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..idp import events, mail, throttle
from ..idp.extensions import db
from ..idp.hooks import LEVELS
from ..idp.models import Account
from ..idp.oidc import claims
from ..idp.oidc.models import PortalSignIn
from ..idp.timeutil import utcnow
from ..idp.upsert import insert_unless_present
from . import sealing, storage
from .models import Attachment, Message, PortalSubject
from .validation import SendIn

DEFAULT_PAGE = 20
MAX_PAGE = 100


class RecipientUnknown(LookupError):
    """No citizen with this ``sub`` has signed in at the sending portal's sector."""


class IdempotencyConflict(ValueError):
    """The idempotency key was used before with a different request."""


class CursorInvalid(ValueError):
    """The pagination cursor was not issued by this API (or was tampered with)."""


# --- recipients -------------------------------------------------------------------------

def _index_sector(client) -> str:
    """Where the index keeps the subjects ``client`` receives.

    Pairwise subjects are one per sector, so a row per sector says "signed in at a portal of this
    sector". A public subject is the account's uuid everywhere, so it says nothing about where the
    citizen signed in: those rows are kept per portal. A sector_identifier spelled like this key
    would do no harm: its rows hold HMAC subjects, never a uuid, and every hit is recomputed.
    """
    return f"public-client:{client.client_id}" if client.subject_type == "public" else client.sector


def index_subject(account: Account, client) -> None:
    """Remember the ``sub`` the portal received for ``account`` (hook at every code issuance).

    Only a citizen indexed for a portal can be addressed by it (``resolve_recipient``).
    """
    # One statement whether it is known already, new, or indexed by a parallel sign-in just now.
    insert_unless_present(PortalSubject, sector=_index_sector(client), subject=claims.subject_for(client, account),
                          account_id=account.id)


def resolve_recipient(client, subject: str) -> Account:
    """The account that ``client`` knows as ``subject``, if the citizen signed in there (for a
    pairwise portal: at a portal of its sector); checked against the subject function."""
    row = PortalSubject.query.filter_by(sector=_index_sector(client), subject=subject).first()
    account = db.session.get(Account, row.account_id) if row else _signed_in_before_indexing(client, subject)
    # Recomputing guards against stale index rows (say, after the service secret changed).
    if account is None or claims.subject_for(client, account) != subject:
        raise RecipientUnknown(subject)
    return account


def _signed_in_before_indexing(client, subject: str) -> Account | None:
    """A citizen who signed in at a public-subject portal before such sign-ins were indexed.

    Until then a public ``sub`` was resolved without the index, so portals sent to citizens of
    theirs that have no row. Every code issuance records a ``PortalSignIn`` (kept until the
    account or the portal goes), which proves the sign-in; the row is indexed now, once.
    """
    if client.subject_type != "public":
        return None
    account = Account.query.filter_by(uuid=subject).first()
    if account is None or not db.session.scalar(select(exists().where(
            PortalSignIn.account_id == account.id, PortalSignIn.client_id == client.client_id))):
        return None
    index_subject(account, client)
    return account


# --- sending ----------------------------------------------------------------------------

def request_hash(raw: dict) -> str:
    """A fingerprint of the decoded request: the same key must come with the same request."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _replay(client_id: str, key: str, fingerprint: str) -> Message | None:
    existing = Message.query.filter_by(sender_client_id=client_id, idempotency_key=key).first()
    if existing is not None and existing.request_hash != fingerprint:
        raise IdempotencyConflict(key)
    return existing


def send(client, data: SendIn, fingerprint: str, idempotency_key: str | None) -> tuple[Message, bool]:
    """Store a message for the recipient; returns (message, replayed).

    With an idempotency key, a retry (even a parallel one) finds the first
    message instead of storing a second: the unique constraint on (sender,
    key) decides the race, the loser reads the winner's row.
    """
    if idempotency_key:
        existing = _replay(client.client_id, idempotency_key, fingerprint)
        if existing is not None:
            return existing, True
    account = resolve_recipient(client, data.recipient)
    message = Message(account_id=account.id, sender_client_id=client.client_id, sender_name=client.name,
                      sender_municipality=(client.client_metadata or {}).get("municipality"),
                      kind=data.kind, status=data.status, reference=data.reference, min_level=data.min_level,
                      reply_to=data.reply_to, language=data.language, idempotency_key=idempotency_key or None,
                      request_hash=fingerprint if idempotency_key else None,
                      attachment_count=len(data.attachments), created_at=utcnow())
    message.public_id = str(uuid.uuid4())
    data_key = sealing.new_data_key()
    message.kek_id, message.data_key = sealing.wrap(data_key, message.public_id)
    message.subject = sealing.seal(data_key, data.subject.encode(), message.public_id, "subject")
    message.body = sealing.seal(data_key, data.body.encode(), message.public_id, "body")
    files = []
    for number, item in enumerate(data.attachments):
        attachment = Attachment(number=number, content_type=item.content_type, size=len(item.content),
                                filename=sealing.seal(data_key, item.filename.encode(), message.public_id,
                                                      f"attachment/{number}/filename"))
        files.append(storage.put(attachment, sealing.seal(data_key, item.content, message.public_id,
                                                          f"attachment/{number}/content")))
        message.attachments.append(attachment)
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = _replay(client.client_id, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, True
    # The row is in: now its files (directory storage), removed again unless the transaction commits.
    storage.write(files)
    events.record("postbox:message:send", account.id, client_id=client.client_id, message=message.public_id,
                  kind=message.kind)
    _notify(account)
    return message, False


# One "new message" mail says all there is to say: messages arriving within this time of it send none.
# (A portal retrying without an Idempotency-Key, or many portals at once, sent one mail per message.)
NOTIFY_AT_MOST_EVERY = timedelta(minutes=15)


def _notify(account: Account) -> None:
    """Tell the citizen a message arrived, without any of its content; once per ``NOTIFY_AT_MOST_EVERY``."""
    if not account.email or not throttle.once_per("postbox-" + throttle.mail_key(account.email),
                                                  NOTIFY_AT_MOST_EVERY):
        return
    with force_locale(account.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("New message in your postbox")
        body = _("You have a new message in your Bürgerkonto postbox.\n\n"
                 "For your protection this e-mail does not show it. Sign in to read it:\n%(url)s\n",
                 url=current_app.config["ISSUER"] + "/postbox")
    mail.queue(account.email, subject, body)


# --- reading ----------------------------------------------------------------------------

def levels_opened_by(level: str | None) -> tuple[str, ...]:
    """The ``min_level`` values a sign-in at ``level`` opens: its own and those below."""
    return LEVELS[:LEVELS.index(level or "low") + 1]


def level_allows(level: str | None, message: Message) -> bool:
    return message.min_level in levels_opened_by(level)


def _opened_by(level: str | None):
    """SQL condition: the messages a sign-in at ``level`` opens (``level_allows`` in the query)."""
    return Message.min_level.in_(levels_opened_by(level))


def data_key(message: Message) -> bytes:
    return sealing.unwrap(message.kek_id, message.data_key, message.public_id)


def subject_of(message: Message, key: bytes | None = None) -> str:
    key = key or data_key(message)
    return sealing.unseal(key, message.subject, message.public_id, "subject").decode()


@dataclass
class Opened:
    message: Message
    subject: str
    body: str
    attachments: list[dict]


def open_message(message: Message) -> Opened:
    key = data_key(message)
    files = [{"number": a.number, "content_type": a.content_type, "size": a.size,
              "filename": sealing.unseal(key, a.filename, message.public_id,
                                         f"attachment/{a.number}/filename").decode()}
             for a in message.attachments]
    return Opened(message, subject_of(message, key),
                  sealing.unseal(key, message.body, message.public_id, "body").decode(), files)


def attachment_content(message: Message, number: int) -> tuple[str, str, bytes] | None:
    """(file name, content type, bytes) of attachment ``number``, or ``None``."""
    item = next((a for a in message.attachments if a.number == number), None)
    if item is None:
        return None
    key = data_key(message)
    where = f"attachment/{number}"
    filename = sealing.unseal(key, item.filename, message.public_id, f"{where}/filename").decode()
    content = sealing.unseal(key, storage.get(item), message.public_id, f"{where}/content")
    return filename, item.content_type, content


def find(account_id: int, public_id: str) -> Message | None:
    """A live message of this citizen; others' and deleted ones are simply not found."""
    if not isinstance(public_id, str) or len(public_id) != 36:
        return None
    return Message.query.filter_by(account_id=account_id, public_id=public_id, deleted_at=None).first()


def mark_read(message: Message, account_id: int, via: str) -> None:
    if message.read_at is not None:
        return
    now = utcnow()
    changed = db.session.execute(update(Message).where(Message.id == message.id, Message.read_at.is_(None))
                                 .values(read_at=now).execution_options(synchronize_session=False)).rowcount
    message.read_at = now
    if changed:
        events.record("postbox:message:read", account_id, message=message.public_id, via=via)


def delete(message: Message, account_id: int, via: str) -> None:
    """Delete for the citizen now; the sealed row is purged after the retention period."""
    message.deleted_at = utcnow()
    events.record("postbox:message:delete", account_id, message=message.public_id, via=via)


def encode_cursor(message: Message) -> str:
    raw = json.dumps([message.created_at.isoformat(), message.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Row ids a cursor may name: what the id column holds (64 bits since migration 0010, on PostgreSQL
# and SQLite alike). A forged id outside would reach the database otherwise (SQLite's driver
# overflows, PostgreSQL refuses it): a 500 instead of a 400. Follow the column if it ever changes.
CURSOR_IDS = range(1, 2**63)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        if len(cursor) > 200:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, ident = json.loads(raw)
        if not isinstance(ident, int) or isinstance(ident, bool) or ident not in CURSOR_IDS \
                or not isinstance(when, str):
            raise ValueError
        moment = datetime.fromisoformat(when)
        if moment.tzinfo is not None:
            raise ValueError  # created_at is naive UTC (timeutil), as encode_cursor writes it
        return moment, ident
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise CursorInvalid(cursor) from None


def page(account_id: int, limit: int = DEFAULT_PAGE, cursor: str | None = None, unread: bool | None = None,
         reference: str | None = None, kind: str | None = None, *,
         level: str = "low") -> tuple[list[Message], str | None]:
    """Newest first, keyset-paginated on (created_at, id): later inserts never shift a page.

    ``level`` is the reader's sign-in level; see ``page_query`` for what it changes.
    """
    rows = page_query(account_id, cursor, unread, reference, kind, level=level).limit(limit + 1).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


def page_query(account_id: int, cursor: str | None = None, unread: bool | None = None,
               reference: str | None = None, kind: str | None = None, *, level: str = "low"):
    """The list query: an index range scan on ``ix_postbox_message_listing`` from the cursor.

    Messages ``level`` does not open match no filter on ``reference`` or ``kind``: a locked
    message withholds them, and a filter that matched it would tell them all the same.
    (Whether a message was read is shown for locked ones too, so ``unread`` filters them all.)
    Without a ``level`` the filters match only what every sign-in opens.
    """
    query = Message.query.filter(Message.account_id == account_id, Message.deleted_at.is_(None))
    if unread is True:
        query = query.filter(Message.read_at.is_(None))
    elif unread is False:
        query = query.filter(Message.read_at.is_not(None))
    if reference is not None or kind is not None:
        query = query.filter(_opened_by(level))
    if reference is not None:
        query = query.filter(Message.reference == reference)
    if kind is not None:
        query = query.filter(Message.kind == kind)
    if cursor:
        when, ident = decode_cursor(cursor)
        query = query.filter(or_(Message.created_at < when, and_(Message.created_at == when, Message.id < ident)))
    return query.order_by(Message.created_at.desc(), Message.id.desc())


def unread_count(account_id: int) -> int:
    return Message.query.filter_by(account_id=account_id, deleted_at=None, read_at=None).count()


def timelines(account_id: int, level: str | None, limit: int = 500) -> list[dict]:
    """Status updates (and notices) grouped by sender and reference: one timeline per application.

    Built only from the messages ``level`` opens: reference, status and kind are what a
    locked message withholds, so a locked entry must not show (nor set the current state).
    A reference is the sending portal's own: grouped by it alone, another portal's message with
    the same number joined the application and, being newer, set its sender and current state.
    """
    rows = (Message.query.filter(Message.account_id == account_id, Message.deleted_at.is_(None),
                                 Message.reference.is_not(None), _opened_by(level))
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit).all())
    groups: dict[tuple, dict] = {}
    for row in rows:
        group = groups.setdefault((row.sender_client_id, row.reference),
                                  {"reference": row.reference, "sender": row.sender_name, "entries": [],
                                   "current": None})
        group["entries"].append(row)
        if group["current"] is None and row.status:
            group["current"] = row.status
    for group in groups.values():
        group["entries"].reverse()  # oldest first: a timeline reads forwards
    return [g for g in groups.values() if any(e.kind == "status" for e in g["entries"])]


# --- the sender's view ------------------------------------------------------------------

def sender_status(client_id: str, public_id: str) -> dict | None:
    if not isinstance(public_id, str) or len(public_id) != 36:
        return None
    message = Message.query.filter_by(sender_client_id=client_id, public_id=public_id).first()
    if message is None:
        return None
    state = "deleted" if message.deleted_at else "read" if message.read_at else "delivered"
    return {"id": message.public_id, "state": state, "delivered_at": message.created_at,
            "read_at": message.read_at, "deleted_at": message.deleted_at}


# --- retention, keys, account -----------------------------------------------------------

def purge(older_than: timedelta | None = None, batch: int = 500) -> int:
    """Remove messages deleted longer ago than the retention period; commits per batch
    (their attachment files go after each commit)."""
    if older_than is None:
        older_than = timedelta(days=current_app.config["POSTBOX_RETENTION_DAYS"])
    limit = utcnow() - older_than
    purged = 0
    while True:
        rows = (Message.query.filter(Message.deleted_at.is_not(None), Message.deleted_at <= limit)
                .order_by(Message.id).limit(batch).all())
        if not rows:
            return purged
        purged += _remove(rows)
        events.record("postbox:message:purge", None, count=len(rows))
        db.session.commit()


def _remove(rows: list[Message]) -> int:
    ids = [m.id for m in rows]
    files = [name for (name,) in db.session.execute(
        select(Attachment.stored_name).where(Attachment.message_id.in_(ids), Attachment.stored_name.is_not(None)))]
    Attachment.query.filter(Attachment.message_id.in_(ids)).delete(synchronize_session=False)
    Message.query.filter(Message.id.in_(ids)).delete(synchronize_session=False)
    db.session.flush()
    storage.remove(files)  # after the commit: a rolled-back deletion keeps them
    return len(ids)


def rotate_keys(batch: int = 200) -> int:
    """Re-wrap every data key not wrapped by the current KEK; readers keep working throughout.

    Each batch is its own short transaction, and each row is updated only if
    it still carries the old wrapping, so it can run beside live traffic and be
    interrupted and restarted at any point.
    """
    kid, _key = sealing.current_kek()
    rewrapped = 0
    last = 0
    while True:
        rows = (db.session.execute(select(Message.id, Message.public_id, Message.kek_id, Message.data_key)
                                   .where(Message.kek_id != kid, Message.id > last)
                                   .order_by(Message.id).limit(batch)).all())
        if not rows:
            return rewrapped
        for ident, public_id, old_kid, wrapped in rows:
            new_kid, new_wrapped = sealing.wrap(sealing.unwrap(old_kid, wrapped, public_id), public_id)
            rewrapped += db.session.execute(
                update(Message).where(Message.id == ident, Message.kek_id == old_kid)
                .values(kek_id=new_kid, data_key=new_wrapped).execution_options(synchronize_session=False)
            ).rowcount
            last = ident
        db.session.commit()


def export(account: Account, level: str | None) -> list[dict]:
    """The citizen's postbox for the data export, as a sign-in at ``level`` sees it: every live
    message it opens, opened (files by name); of the others only who sent them, when, and the level
    that opens them, as on the postbox page. The export must not be a way around ``min_level``."""
    result = []
    for message in (Message.query.filter_by(account_id=account.id, deleted_at=None)
                    .order_by(Message.created_at, Message.id)):
        item = {"id": message.public_id, "sender": message.sender_name,
                "created_at": message.created_at.isoformat() + "Z", "min_level": message.min_level}
        if not level_allows(level, message):
            result.append(item | {"locked": True})
            continue
        opened = open_message(message)
        result.append(item | {
            "locked": False, "kind": message.kind, "status": message.status, "reference": message.reference,
            "read_at": message.read_at.isoformat() + "Z" if message.read_at else None,
            "language": message.language, "subject": opened.subject, "body": opened.body,
            "attachments": opened.attachments})
    return result


def delete_account(account: Account) -> None:
    """The postbox goes with the account (in the deletion transaction)."""
    rows = Message.query.filter_by(account_id=account.id).all()
    if rows:
        _remove(rows)
    PortalSubject.query.filter_by(account_id=account.id).delete(synchronize_session=False)
