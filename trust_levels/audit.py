"""The staff audit log: append-only, each entry carrying the hash of the one before.

An entry's hash is an HMAC (key derived from the service secret) over its
content and the previous entry's hash. Editing, deleting or inserting an
entry breaks the chain from there on, and without the service secret nobody
with only database access can forge a consistent chain. Rotating the service
secret therefore needs a fresh chain (documented in the operator notes).

Entries are written in the same transaction as the action they record. The
sequence number is unique: two concurrent appends cannot both take the same
place; the loser retries on top of the winner.

One change the chain cannot show by itself: deleting its newest entries
leaves a shorter chain that is still whole. The head (sequence number and
hash of the newest entry) is the anchor for that: the operator keeps it
outside the database (``buergerkonto audit head`` from a timer) and
``verify(head=...)`` fails when the chain no longer reaches it. Nobody can
rewrite the entries up to a recorded head and keep its hash, not even with
the service secret.
"""

import csv
import hashlib
import hmac
import io
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..idp import crypto
from ..idp.extensions import db
from ..idp.timeutil import utcnow
from .models import AuditEntry

GENESIS = "0" * 64
ACTIONS = ("search", "view", "correct", "confirm", "hold", "approve", "reject", "revoke", "export")
_ATTEMPTS = 5


def _canonical(entry: AuditEntry) -> bytes:
    body = {
        "seq": entry.seq,
        "created_at": entry.created_at.isoformat(timespec="microseconds"),
        "office_id": entry.office_id,
        "staff_id": entry.staff_id,
        "action": entry.action,
        "account_id": entry.account_id,
        "object_ref": entry.object_ref,
        "details": entry.details or {},
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hmac.new(crypto.derive_key("trust-audit-chain"), _canonical(entry), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    """The newest entry's sequence number and hash, written ``SEQ:HASH``; ``0:000...`` for an empty log."""

    seq: int
    entry_hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.entry_hash}"

    @classmethod
    def parse(cls, text: str) -> "Head":
        seq, _, entry_hash = (text or "").strip().partition(":")
        if not (seq.isascii() and seq.isdigit() and len(entry_hash) == 64
                and all(ch in "0123456789abcdef" for ch in entry_hash)):
            raise ValueError("a head is SEQ:HASH, e.g. 42: and 64 hex digits, as `audit head` prints it")
        return cls(int(seq), entry_hash)


def head() -> Head:
    """The chain's head now: where every later check must find the chain reaching."""
    newest = db.session.execute(select(AuditEntry.seq, AuditEntry.entry_hash)
                                .order_by(AuditEntry.seq.desc()).limit(1)).first()
    return Head(newest.seq, newest.entry_hash) if newest else Head(0, GENESIS)


def append(staff, action: str, account_id: int | None = None, object_ref: str | None = None,
           **details) -> AuditEntry:
    """Add an entry for ``staff`` doing ``action``; ``details`` hold no personal data."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    for _attempt in range(_ATTEMPTS):
        last = head()
        entry = AuditEntry(
            seq=last.seq + 1,
            created_at=utcnow(),
            office_id=staff.office_id,
            staff_id=staff.id,
            action=action,
            account_id=account_id,
            object_ref=object_ref,
            details=details or None,
            prev_hash=last.entry_hash,
        )
        entry.entry_hash = entry_hash(entry)
        try:
            with db.session.begin_nested():
                db.session.add(entry)
        except IntegrityError:
            continue  # another append took this place; chain onto it
        return entry
    raise RuntimeError("could not append to the audit log")


@dataclass
class Broken:
    """The first entry where the chain does not hold, and why (``entry_id`` is None for a missing entry)."""

    entry_id: int | None
    seq: int
    reason: str


def verify(batch: int = 1000, head: Head | None = None) -> tuple[int, Broken | None]:
    """Walk the whole chain in order; return (entries checked, first break or None).

    With ``head`` (recorded earlier from ``head()``), the chain must also still reach it unchanged:
    without it, deleting the newest entries goes unnoticed.
    """
    # The chain starts at 1; a row below it is no part of the chain, but the office's pages and CSV
    # show it as a staff action like any other.
    stray = AuditEntry.query.filter(AuditEntry.seq < 1).order_by(AuditEntry.seq).first()
    if stray is not None:
        return 0, Broken(stray.id, stray.seq, "an entry outside the chain (sequence below 1)")
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    hash_at_head = GENESIS if head is not None and head.seq == 0 else None
    while True:
        # populate_existing: check what is stored, never an entry this session holds in memory.
        entries = (AuditEntry.query.filter(AuditEntry.seq >= expected_seq).populate_existing()
                   .order_by(AuditEntry.seq).limit(batch).all())
        if not entries:
            return checked, _missed(head, expected_seq - 1, hash_at_head) if head is not None else None
        for entry in entries:
            if entry.seq != expected_seq:
                return checked, Broken(entry.id, entry.seq, f"sequence jumps from {expected_seq - 1} to {entry.seq}")
            if entry.prev_hash != expected_prev:
                return checked, Broken(entry.id, entry.seq, "previous-entry hash does not match")
            if not hmac.compare_digest(entry.entry_hash, entry_hash(entry)):
                return checked, Broken(entry.id, entry.seq, "content does not match its hash")
            if head is not None and entry.seq == head.seq:
                hash_at_head = entry.entry_hash
            expected_prev = entry.entry_hash
            expected_seq += 1
            checked += 1
        db.session.expunge_all()


def _missed(head: Head, newest_seq: int, hash_at_head: str | None) -> Broken | None:
    """How an intact chain ending at ``newest_seq`` fails to reach a recorded head, if it does."""
    if hash_at_head is None:
        return Broken(None, head.seq, f"the chain ends at sequence {newest_seq}, before the recorded head: "
                                      "its newest entries were deleted")
    if not hmac.compare_digest(hash_at_head, head.entry_hash):
        return Broken(None, head.seq, "the entry does not match the recorded head: the chain up to it was rewritten")
    return None


def for_office(office_id: int, limit: int = 200) -> list[AuditEntry]:
    """The newest entries of one office (what its staff may see)."""
    return (AuditEntry.query.filter_by(office_id=office_id)
            .order_by(AuditEntry.seq.desc()).limit(limit).all())


CSV_COLUMNS = ("seq", "created_at", "office_id", "staff_id", "action", "account_id", "object_ref",
               "details", "prev_hash", "entry_hash")


def office_csv(office_id: int) -> str:
    """All entries of one office as CSV, hashes included, so an export can be checked later."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    query = AuditEntry.query.filter_by(office_id=office_id).order_by(AuditEntry.seq)
    for entry in query.yield_per(500):
        writer.writerow([
            # To the microsecond, as the entry's hash covers it: an archived export can be checked.
            entry.seq, entry.created_at.isoformat(timespec="microseconds") + "Z", entry.office_id,
            entry.staff_id, entry.action, entry.account_id if entry.account_id is not None else "",
            entry.object_ref or "", json.dumps(entry.details or {}, sort_keys=True),
            entry.prev_hash, entry.entry_hash,
        ])
    return out.getvalue()
