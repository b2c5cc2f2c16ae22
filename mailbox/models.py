"""Records of the postbox: messages, their attachments, and the index of portal subjects.

What a citizen reads (subject, body, attachment names and contents) is stored
sealed with the message's own data key (AES-256-GCM); the data key is stored
wrapped by the key-encryption key (``sealing``). What the service must query
on stays in the clear: recipient, sender, kind, state, reference, dates.

The list query walks ``ix_postbox_message_listing`` (account, created_at, id)
from a cursor (keyset pagination), so a page costs the same however many
messages the table holds.
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..idp.extensions import GrowingId, db
from ..idp.timeutil import utcnow


class Message(db.Model):
    __tablename__ = "postbox_message"
    __table_args__ = (
        Index("ix_postbox_message_listing", "account_id", "created_at", "id"),
        Index("ix_postbox_message_reference", "account_id", "reference"),
        UniqueConstraint("sender_client_id", "idempotency_key", name="uq_postbox_message_idempotency"),
    )

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # No foreign key: a portal that leaves the network does not take the citizen's mail with it.
    sender_client_id: Mapped[str] = mapped_column(String(48), index=True)
    sender_name: Mapped[str] = mapped_column(String(200))
    sender_municipality: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(24))
    reference: Mapped[str | None] = mapped_column(String(100))
    min_level: Mapped[str] = mapped_column(String(16), default="low")
    reply_to: Mapped[str | None] = mapped_column(String(254))
    # BCP 47 tag of subject and body (validation.LANGUAGE_PATTERN), for the pages' lang attribute.
    # In the clear like the other metadata; rows from before the field was sent are German.
    language: Mapped[str] = mapped_column(String(35), default="de", server_default="de")
    kek_id: Mapped[str] = mapped_column(String(16), index=True)
    data_key: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[bytes] = mapped_column(LargeBinary)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    attachment_count: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None] = mapped_column(index=True)

    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Attachment.number")


class Attachment(db.Model):
    """One file of a message, numbered from 0 in the order sent; content in the row or a file."""

    __tablename__ = "postbox_attachment"
    __table_args__ = (UniqueConstraint("message_id", "number", name="uq_postbox_attachment_message_number"),)

    id: Mapped[int] = mapped_column(GrowingId, primary_key=True)
    message_id: Mapped[int] = mapped_column(GrowingId, ForeignKey("postbox_message.id", ondelete="CASCADE"),
                                            index=True)
    number: Mapped[int] = mapped_column(Integer)
    filename: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Name of the sealed file in POSTBOX_ATTACHMENT_DIR when attachments are kept on disk.
    stored_name: Mapped[str | None] = mapped_column(String(64))

    message: Mapped[Message] = relationship(back_populates="attachments")


class PortalSubject(db.Model):
    """Which account a ``sub`` a portal received stands for, and that the citizen signed in there.

    Pairwise subjects are one-way (an HMAC), so the postbox remembers each one
    when a portal of that sector receives it at sign-in (``hooks.portal_sign_in``);
    a sender's recipient is then one index lookup. Public subjects (the account's
    uuid) are kept per portal, with ``sector`` ``public-client:<client_id>``: a
    portal may address only citizens who signed in at it (``service._index_sector``).
    """

    __tablename__ = "postbox_portal_subject"
    __table_args__ = (UniqueConstraint("sector", "subject", name="uq_postbox_portal_subject_sector_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sector: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
