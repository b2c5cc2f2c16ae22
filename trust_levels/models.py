"""Records of the in-person identity check: offices, staff, checks, verifications, audit log.

Staff are not citizen accounts: they live in their own table with their own
password and TOTP secret, so that no citizen session can ever carry staff
rights and no staff sign-in can be used at a portal.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..idp.extensions import db
from ..idp.models import Account
from ..idp.timeutil import utcnow

ROLE_VERIFIER = "verifier"
ROLE_OFFICE_ADMIN = "office-admin"
ROLES = (ROLE_VERIFIER, ROLE_OFFICE_ADMIN)

# Document types as OpenID Connect for Identity Assurance names them.
DOCUMENT_TYPES = ("idcard", "passport", "residence_permit")


class Municipality(db.Model):
    """A member municipality, identified by its official key (Amtlicher Gemeindeschlüssel)."""

    __tablename__ = "trust_municipality"

    id: Mapped[int] = mapped_column(primary_key=True)
    ags: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Office(db.Model):
    """A citizen office (Bürgerbüro) of a municipality, where identities are checked."""

    __tablename__ = "trust_office"
    __table_args__ = (UniqueConstraint("municipality_id", "name", name="uq_trust_office_municipality_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("trust_municipality.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    street_address: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    locality: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality: Mapped[Municipality] = relationship()


class StaffMember(db.Model):
    """A Bürgerbüro employee who may confirm identities (``verifier``) or also manage (``office-admin``)."""

    __tablename__ = "trust_staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("trust_office.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_set_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    # One-time setup link: only its SHA-256 is kept; cleared once used.
    setup_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None]
    # The employee's own citizen account, when known: they may never confirm it.
    citizen_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]

    office: Mapped[Office] = relationship()

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_OFFICE_ADMIN

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def credentials_set_at(self) -> datetime | None:
        """When the password or the authenticator was last set: sign-ins before it used old credentials."""
        moments = [moment for moment in (self.password_set_at, self.totp_enabled_at) if moment is not None]
        return max(moments, default=None)


class PersonData:
    """The attributes as on the ID card: what the citizen enters and staff confirm."""

    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birthdate: Mapped[date] = mapped_column(Date)
    place_of_birth: Mapped[str] = mapped_column(String(100))
    street_address: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(10))
    locality: Mapped[str] = mapped_column(String(100))


class IdentityCheck(PersonData, db.Model):
    """A citizen's request to have their identity checked: the data as on the ID card, and a code.

    The code is what the citizen shows at the counter. Only its keyed hash is
    searchable; a sealed copy lets the citizen's own page show it again.
    """

    __tablename__ = "trust_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_sealed: Mapped[str] = mapped_column(String(255))
    country: Mapped[str] = mapped_column(String(2), default="DE")
    # open -> confirmed | held | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()


class Verification(PersonData, db.Model):
    """The record of one in-person check: who confirmed, where, when, which document, what data.

    ``status``: ``held`` (same document seen on another account; an office-admin
    decides), ``confirmed``, ``rejected``, ``revoked`` (by an office-admin, with a
    reason) or ``superseded`` (by a later confirmation of the same account).
    A confirmed record counts only until the document expires.
    """

    __tablename__ = "trust_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public reference: OIDC4IDA ``verification_process`` and evidence ``txn``.
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("trust_check.id", ondelete="SET NULL"))
    office_id: Mapped[int] = mapped_column(ForeignKey("trust_office.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("trust_staff.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("trust_staff.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    level: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None]
    document_type: Mapped[str] = mapped_column(String(20))
    document_country: Mapped[str] = mapped_column(String(3))
    document_expires_on: Mapped[date] = mapped_column(Date, index=True)
    document_hash: Mapped[str] = mapped_column(String(64), index=True)
    country: Mapped[str] = mapped_column(String(2))
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("trust_staff.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    expiry_notified_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()
    office: Mapped[Office] = relationship()
    staff: Mapped[StaffMember] = relationship(foreign_keys=[staff_id])


class AuditEntry(db.Model):
    """One staff action, chained to the previous entry by its hash (append-only).

    Holds ids only (office, staff member, account, record): no names, no
    document data. ``seq`` is gapless, so a deleted entry breaks the chain too.
    """

    __tablename__ = "trust_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    office_id: Mapped[int] = mapped_column(index=True)
    staff_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None]
    object_ref: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
