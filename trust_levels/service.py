"""The trust-level service: one function per use case, called by the web views and the CLI.

Functions change the session's transaction (and queue mail, write audit
entries and events in it); the caller commits. Refusals are exceptions whose
``message`` can be shown to the person who caused them.
"""

import re
import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from ..idp import accounts, auth, crypto, events, mail, passwords, throttle, totp
from ..idp.extensions import db
from ..idp.models import Account, WebSession
from ..idp.timeutil import utcnow
from . import audit, codes
from .models import (DOCUMENT_TYPES, ROLES, AuditEntry, IdentityCheck, Municipality, Office,
                     StaffMember, Verification)

CHECK_VALIDITY = timedelta(days=30)
PERSON_FIELDS = ("given_name", "family_name", "birthdate", "place_of_birth", "street_address",
                 "postal_code", "locality")
_CODE_PURPOSE = "trust-check-code"
_DOCUMENT_PURPOSE = "trust-document-number"
_TOTP_PURPOSE = "staff-totp-secret"


def N_(text: str) -> str:
    """Mark a mail text for translation; it is translated when the mail is written."""
    return text


class TrustError(Exception):
    """A refused request; ``message`` says why, for the person who made it."""

    message = _l("The request could not be processed.")

    def __init__(self, message=None):
        super().__init__(str(message or self.message))
        if message is not None:
            self.message = message


class InvalidInput(TrustError):
    pass


class CodeUnknown(TrustError):
    message = _l("No identity check has this code. Please check the code and try again.")


class CodeExpired(TrustError):
    message = _l("This code has expired. The citizen needs to request a new code on their account page.")


class CodeUsed(TrustError):
    message = _l("This code has already been used.")


class OwnAccount(TrustError):
    message = _l("You cannot confirm your own identity. Please ask a colleague.")


class WrongOffice(TrustError):
    message = _l("This record belongs to another office.")


class NotAllowed(TrustError):
    message = _l("Only an office administrator may do this.")


class SameStaffDecision(TrustError):
    message = _l("You recorded this check yourself. A held check is decided by a second person (four-eyes "
                 "principle): please ask another office administrator.")


class DocumentExpired(TrustError):
    message = _l("The document has expired. An expired document cannot confirm an identity.")


class LinkInvalid(TrustError):
    message = _l("This set-up link is not valid or was already used.")


class LinkExpired(TrustError):
    message = _l("This set-up link has expired. Please ask for a new one.")


def today() -> date:
    """The date in Germany: a document is valid through its expiry day."""
    return datetime.now(ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Berlin"))).date()


def _external(path: str) -> str:
    return current_app.config["ISSUER"] + path


# --- offices and staff ----------------------------------------------------------------------

_AGS = re.compile(r"^\d{8}$")


def create_office(name: str, ags: str, municipality_name: str | None = None, street_address=None,
                  postal_code=None, locality=None) -> Office:
    """Create an office; its municipality (by AGS) is created on first use."""
    name = (name or "").strip()
    ags = (ags or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("The office needs a name of at most 200 characters.")
    if not _AGS.match(ags):
        raise InvalidInput("The AGS (Amtlicher Gemeindeschlüssel) has exactly 8 digits, e.g. 03457013.")
    municipality = Municipality.query.filter_by(ags=ags).first()
    if municipality is None:
        municipality = Municipality(ags=ags, name=(municipality_name or name).strip()[:200])
        db.session.add(municipality)
        db.session.flush()
    if Office.query.filter_by(municipality_id=municipality.id, name=name).first() is not None:
        raise InvalidInput("This municipality already has an office with that name.")
    office = Office(municipality_id=municipality.id, name=name, street_address=street_address,
                    postal_code=postal_code, locality=locality)
    db.session.add(office)
    db.session.flush()
    events.record("trust:office:create", None, office_id=office.id, ags=ags)
    return office


def _new_setup_link(staff: StaffMember) -> str:
    token = secrets.token_urlsafe(32)
    staff.setup_token_hash = crypto.sha256_hex(token)
    staff.setup_expires_at = utcnow() + timedelta(hours=current_app.config["STAFF_SETUP_LINK_HOURS"])
    return _external(f"/staff/setup/{token}")


def create_staff(email: str, office_id: int, role: str, citizen_account: str | None = None
                 ) -> tuple[StaffMember, str]:
    """Create a staff member; return it and a one-time set-up link for the employee.

    The operator hands the link over; the employee chooses their own password
    with it and enrols TOTP at the first sign-in, so no one else ever knows
    their credentials.
    """
    try:
        email_norm = accounts.normalise_email(email)
    except accounts.InvalidEmail as exc:
        raise InvalidInput("The e-mail address is not valid.") from exc
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of: {', '.join(ROLES)}.")
    if db.session.get(Office, office_id) is None:
        raise InvalidInput("There is no office with this id.")
    if StaffMember.query.filter_by(email=email_norm).first() is not None:
        raise InvalidInput("A staff member with this e-mail address exists already.")
    linked = _citizen_account(citizen_account) if citizen_account else None
    staff = StaffMember(email=email_norm, office_id=office_id, role=role,
                        citizen_account_id=linked.id if linked else None)
    db.session.add(staff)
    db.session.flush()
    link = _new_setup_link(staff)
    events.record("trust:staff:create", None, staff_id=staff.id, office_id=office_id, role=role)
    return staff, link


def staff_for_setup(token: str) -> StaffMember:
    if not token or len(token) > 128:
        raise LinkInvalid()
    staff = StaffMember.query.filter_by(setup_token_hash=crypto.sha256_hex(token)).first()
    if staff is None or staff.disabled_at is not None:
        raise LinkInvalid()
    if staff.setup_expires_at is None or staff.setup_expires_at < utcnow():
        raise LinkExpired()
    return staff


def complete_setup(token: str, password: str) -> StaffMember:
    """Set the password from the set-up link; the link dies, TOTP is enrolled at first sign-in."""
    staff = staff_for_setup(token)
    problems = passwords.policy_problems(password, staff.email)
    if problems:
        raise accounts.PasswordRejected(problems)
    staff.password_hash = passwords.hash_password(password)
    staff.password_set_at = utcnow()
    staff.setup_token_hash = None
    staff.setup_expires_at = None
    # A new set-up (after a lost phone) means a new TOTP enrolment too.
    staff.totp_secret = None
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    events.record("trust:staff:setup", None, staff_id=staff.id)
    return staff


def reset_staff(staff: StaffMember) -> str:
    """A new set-up link (forgotten password, lost phone); the old credentials stop working.

    So do the browsers signed in with them: a lost laptop's staff session ends
    here, not just until the employee has enrolled a new authenticator.
    """
    staff.password_hash = None
    staff.totp_secret = None
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    link = _new_setup_link(staff)
    ended = end_staff_sessions(staff, "staff-reset")
    events.record("trust:staff:reset", None, staff_id=staff.id, ended_sessions=ended)
    return link


def disable_staff(staff: StaffMember) -> None:
    """Off-boarding: the staff member can no longer sign in; open staff sessions end."""
    staff.disabled_at = utcnow()
    staff.setup_token_hash = None
    ended = end_staff_sessions(staff, "staff-disabled")
    events.record("trust:staff:disable", None, staff_id=staff.id, ended_sessions=ended)


def end_staff_sessions(staff: StaffMember, reason: str) -> int:
    """End every open staff session of ``staff`` (its ``staff_id`` is in the session data); return how many."""
    records = (WebSession.query
               .filter(WebSession.kind == "staff", WebSession.ended_at.is_(None),
                       WebSession.data["staff_id"].as_integer() == staff.id)
               .all())
    for record in records:
        auth.end_session(record, reason)
    return len(records)


def authenticate_staff(email: str, password: str, ip_address: str | None) -> StaffMember | None:
    """Check a staff password with throttling; ``None`` on any failure (same cost either way)."""
    email_norm = (email or "").strip().lower()[:254]
    keys = (throttle.account_key("staff:" + email_norm), throttle.ip_key(ip_address))
    throttle.check(*keys)
    staff = StaffMember.query.filter_by(email=email_norm).first() if email_norm else None
    usable = staff is not None and staff.disabled_at is None
    ok, rehash = passwords.verify_password(staff.password_hash if usable else None, password or "")
    if not ok:
        throttle.fail(*keys)
        events.record("staff:login:failure", None, reason="password")
        return None
    if rehash:
        staff.password_hash = passwords.hash_password(password)
    throttle.succeed(keys[0])
    return staff


def staff_totp_secret(staff: StaffMember) -> str | None:
    if not staff.totp_secret:
        return None
    return crypto.decrypt(staff.totp_secret, _TOTP_PURPOSE, str(staff.id).encode()).decode()


def check_staff_code(staff: StaffMember, code: str, ip_address: str | None, secret: str | None = None) -> bool:
    """Accept a TOTP code once (one step either side), throttled like the citizen's second factor."""
    keys = (throttle.account_key(f"staff-totp:{staff.id}"), throttle.ip_key(ip_address))
    throttle.check(*keys)
    secret = secret or staff_totp_secret(staff)
    step = totp.matching_step(secret, code or "") if secret else None
    if step is not None:
        if totp.claim_step(staff, step):
            throttle.succeed(keys[0])
            return True
    throttle.fail(*keys)
    events.record("staff:login:failure", None, reason="second-factor", staff_id=staff.id)
    return False


def enable_staff_totp(staff: StaffMember, secret: str, code: str, ip_address: str | None) -> bool:
    if not check_staff_code(staff, code, ip_address, secret=secret):
        return False
    staff.totp_secret = crypto.encrypt(secret.encode(), _TOTP_PURPOSE, str(staff.id).encode())
    staff.totp_enabled_at = utcnow()
    events.record("trust:staff:totp_enable", None, staff_id=staff.id)
    return True


# --- the citizen's side ---------------------------------------------------------------------


def open_check(account: Account) -> IdentityCheck | None:
    """The citizen's current, unexpired check request, if any."""
    return (IdentityCheck.query.filter_by(account_id=account.id, status="open")
            .filter(IdentityCheck.expires_at > utcnow())
            .order_by(IdentityCheck.id.desc()).first())


def held_check(account: Account) -> IdentityCheck | None:
    return IdentityCheck.query.filter_by(account_id=account.id, status="held").first()


def check_code(check: IdentityCheck) -> str:
    return crypto.decrypt(check.code_sealed, _CODE_PURPOSE, str(check.account_id).encode()).decode()


def _code_hash(code: str) -> str:
    return crypto.keyed_hash(code, _CODE_PURPOSE)


def start_check(account: Account, data: dict) -> tuple[IdentityCheck, str]:
    """Record the data as on the ID card and issue a code valid 30 days (an earlier one lapses)."""
    now = utcnow()
    IdentityCheck.query.filter_by(account_id=account.id, status="open").update(
        {"status": "cancelled", "closed_at": now})
    code = codes.new_code()
    while IdentityCheck.query.filter_by(code_hash=_code_hash(code)).first() is not None:
        code = codes.new_code()
    check = IdentityCheck(
        account_id=account.id, code_hash=_code_hash(code),
        code_sealed=crypto.encrypt(code.encode(), _CODE_PURPOSE, str(account.id).encode()),
        created_at=now, expires_at=now + CHECK_VALIDITY, status="open",
        **{field: _clean(data.get(field)) for field in PERSON_FIELDS}, country="DE",
    )
    db.session.add(check)
    db.session.flush()
    events.record("trust:check:start", account.id, check_id=check.id)
    return check, code


def cancel_check(account: Account) -> bool:
    changed = IdentityCheck.query.filter_by(account_id=account.id, status="open").update(
        {"status": "cancelled", "closed_at": utcnow()})
    if changed:
        events.record("trust:check:cancel", account.id)
    return bool(changed)


def _clean(value):
    return value.strip() if isinstance(value, str) else value


# --- the counter ----------------------------------------------------------------------------


def find_check(staff: StaffMember, raw_code: str, ip_address: str | None) -> IdentityCheck:
    """Look up a check by its code (audited as ``search``); throttled against guessing."""
    keys = (throttle.account_key(f"staff-search:{staff.id}"), throttle.ip_key(ip_address, "staff-search"))
    throttle.check(*keys)
    code = codes.normalise(raw_code)
    check = IdentityCheck.query.filter_by(code_hash=_code_hash(code)).first() if code else None
    if check is None:
        throttle.fail(*keys)
        audit.append(staff, "search", found=False)
        raise CodeUnknown()
    audit.append(staff, "search", check.account_id, f"check:{check.id}", found=True)
    if check.status != "open":
        raise CodeUsed()
    if check.expires_at <= utcnow():
        raise CodeExpired()
    return check


def is_own_account(staff: StaffMember, account: Account) -> bool:
    """Staff never confirm themselves: same e-mail address, or the linked citizen account."""
    if staff.citizen_account_id is not None and staff.citizen_account_id == account.id:
        return True
    return bool(account.email) and account.email.lower() == staff.email.lower()


def _refuse_own_account(staff: StaffMember, account_id: int, **where) -> None:
    """Refuse a clerk their own account, and leave a security event: an attempt at confirming oneself
    is what an auditor looks for, and the refusal writes nothing else (the caller commits the event)."""
    events.record("trust:own_account_refused", account_id, staff_id=staff.id, office_id=staff.office_id, **where)
    raise OwnAccount()


def view_check(staff: StaffMember, check: IdentityCheck) -> None:
    """Record that ``staff`` saw the check's personal data; refuse their own account, and a check no
    longer open: a check page looked up once showed the citizen's data for the whole staff session,
    also after the citizen withdrew the code or it expired."""
    if is_own_account(staff, check.account):
        _refuse_own_account(staff, check.account_id, check_id=check.id, step="view")
    if check.status != "open":
        raise CodeUsed()
    if check.expires_at <= utcnow():
        raise CodeExpired()
    audit.append(staff, "view", check.account_id, f"check:{check.id}")


def document_hash(country: str, number: str) -> str:
    """Keyed hash of issuing country and document number; the number itself is never stored."""
    normalised = "".join(ch for ch in number.upper() if ch.isalnum())
    return crypto.keyed_hash(f"{country.upper()}:{normalised}", _DOCUMENT_PURPOSE)


def confirm(staff: StaffMember, check: IdentityCheck, person: dict, document: dict) -> Verification:
    """Confirm the identity as seen on the document, or hold it when the document is on another account.

    ``person``: the data as on the document (staff corrected what differs).
    ``document``: type (idcard|passport|residence_permit), country (ICAO/ISO
    3-letter code), expires_on (date), number (hashed, then forgotten).
    """
    account = check.account
    if is_own_account(staff, account):
        _refuse_own_account(staff, account.id, check_id=check.id, step="confirm")
    if check.status != "open":
        raise CodeUsed()
    if check.expires_at <= utcnow():
        raise CodeExpired()
    if document["type"] not in DOCUMENT_TYPES:
        raise InvalidInput(_l("Please choose the document type."))
    if document["expires_on"] < today():
        raise DocumentExpired()
    person = {field: _clean(person[field]) for field in PERSON_FIELDS}
    corrected = sorted(field for field in PERSON_FIELDS if person[field] != getattr(check, field))
    if corrected:
        audit.append(staff, "correct", account.id, f"check:{check.id}", fields=corrected)
    doc_hash = document_hash(document["country"], document["number"])
    _one_confirmation_of_the_document_at_a_time(doc_hash)
    duplicate = (Verification.query.filter(Verification.document_hash == doc_hash,
                                           Verification.account_id != account.id,
                                           Verification.status != "rejected").first())
    now = utcnow()
    # Claim the check with a conditional update: two clerks confirming at once cannot both succeed.
    new_status = "held" if duplicate else "confirmed"
    claimed = db.session.execute(
        update(IdentityCheck)
        .where(IdentityCheck.id == check.id, IdentityCheck.status == "open")
        .values(status=new_status, closed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise CodeUsed()
    verification = Verification(
        account_id=account.id, check_id=check.id, office_id=staff.office_id, staff_id=staff.id,
        status=new_status, level=current_app.config["TRUST_LEVEL_IN_PERSON"],
        created_at=now, verified_at=None if duplicate else now,
        document_type=document["type"], document_country=document["country"].upper(),
        document_expires_on=document["expires_on"], document_hash=doc_hash,
        country=check.country, **person,
    )
    check.status = new_status
    check.closed_at = now
    db.session.add(verification)
    db.session.flush()
    ref = f"verification:{verification.public_id}"
    if duplicate:
        audit.append(staff, "hold", account.id, ref, reason="document-on-other-account",
                     other_account_id=duplicate.account_id)
        events.record("trust:verification:held", account.id, verification=verification.public_id)
    else:
        _supersede_others(verification)
        audit.append(staff, "confirm", account.id, ref, level=verification.level)
        events.record("trust:verification:confirm", account.id, verification=verification.public_id,
                      office_id=staff.office_id, level=verification.level)
    return verification


def _one_confirmation_of_the_document_at_a_time(doc_hash: str) -> None:
    """Confirmations of one document wait for each other until the first commits (PostgreSQL).

    The search for the document on another account is a plain read: two counters confirming one ID
    card for two accounts at the same moment each found none, and both were confirmed instead of the
    second being held for an office admin. A transaction-scoped advisory lock on the document's hash
    orders them; the second then sees the first. (SQLite lets one writer in at a time anyway.)
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(int(doc_hash[:15], 16))))


def _document_on_own_account(staff: StaffMember, verification: Verification) -> bool:
    others = Verification.query.filter(Verification.document_hash == verification.document_hash,
                                       Verification.id != verification.id, Verification.status != "rejected")
    return any(is_own_account(staff, other.account) for other in others)


def _claim(verification: Verification, expected: str, new: str, refusal) -> None:
    """Move ``verification`` from ``expected`` to ``new`` by a conditional UPDATE, before anything else.

    The status checked in Python is what this request read: two office admins deciding at once both
    saw it ``held`` (or ``confirmed``), and both decisions were recorded, an approval beside a
    rejection, or one confirmation revoked twice with two mails. Of two, one UPDATE changes the row;
    the other is refused with ``refusal``.
    """
    changed = db.session.execute(
        update(Verification).where(Verification.id == verification.id, Verification.status == expected)
        .values(status=new).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise InvalidInput(refusal)
    verification.status = new


def _supersede_others(verification: Verification) -> None:
    Verification.query.filter(Verification.account_id == verification.account_id,
                              Verification.id != verification.id,
                              Verification.status == "confirmed").update({"status": "superseded"})


def _require_admin_of(staff: StaffMember, verification: Verification) -> None:
    if not staff.is_admin:
        raise NotAllowed()
    if verification.office_id != staff.office_id:
        raise WrongOffice()


def view_verification(staff: StaffMember, verification: Verification) -> None:
    if verification.office_id != staff.office_id:
        raise WrongOffice()
    audit.append(staff, "view", verification.account_id, f"verification:{verification.public_id}")


_NOT_WAITING = _l("This verification is not waiting for a decision.")
_ONLY_CONFIRMED = _l("Only a confirmed verification can be revoked.")


def decide_held(staff: StaffMember, verification: Verification, approve: bool) -> None:
    """An office-admin clears (after clarifying the case) or rejects a held verification.

    Every refusal comes before any change (the caller may commit the refusal's event).
    """
    _require_may_decide(staff, verification)
    _claim(verification, "held", "confirmed" if approve else "rejected", _NOT_WAITING)
    ref = f"verification:{verification.public_id}"
    check = db.session.get(IdentityCheck, verification.check_id) if verification.check_id else None
    if approve:
        verification.verified_at = utcnow()
        verification.approved_by_id = staff.id
        _supersede_others(verification)
        if check is not None:
            check.status = "confirmed"
        audit.append(staff, "approve", verification.account_id, ref)
        events.record("trust:verification:confirm", verification.account_id,
                      verification=verification.public_id, office_id=staff.office_id, level=verification.level)
    else:
        if check is not None:
            check.status = "cancelled"
        audit.append(staff, "reject", verification.account_id, ref)
        events.record("trust:verification:reject", verification.account_id, verification=verification.public_id)


def _require_may_decide(staff: StaffMember, verification: Verification) -> None:
    _require_admin_of(staff, verification)
    if verification.status != "held":
        raise InvalidInput(_NOT_WAITING)
    if is_own_account(staff, verification.account) or _document_on_own_account(staff, verification):
        # A hold is about two accounts: an admin whose own account carries the document clears
        # nothing (one ID card would confirm two accounts, nobody else having looked).
        _refuse_own_account(staff, verification.account_id, verification=verification.public_id, step="decide")
    if verification.document_expires_on < today():
        # As at the counter: the document must be valid when the identity is confirmed (approving
        # would also supersede a newer, valid confirmation of the account).
        raise DocumentExpired()
    if verification.staff_id == staff.id:
        # A hold means one document on two accounts: the clerk who saw it cannot also clear it.
        events.record("trust:verification:decision_refused", verification.account_id,
                      verification=verification.public_id, staff_id=staff.id, reason="four-eyes")
        raise SameStaffDecision()


def revoke(staff: StaffMember, verification: Verification, reason: str) -> None:
    """An office-admin withdraws a confirmation; the account falls back to its other proofing."""
    _require_admin_of(staff, verification)
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise InvalidInput(_l("Please give a reason of at least 10 characters."))
    _claim(verification, "confirmed", "revoked", _ONLY_CONFIRMED)
    verification.revoked_at = utcnow()
    verification.revoked_by_id = staff.id
    verification.revoke_reason = reason[:1000]
    audit.append(staff, "revoke", verification.account_id, f"verification:{verification.public_id}")
    events.record("trust:verification:revoke", verification.account_id, verification=verification.public_id)
    account = verification.account
    if account.email:
        _mail(account, N_("Your confirmed identity was withdrawn"),
              N_("The Bürgerbüro has withdrawn the confirmation of your identity in your Bürgerkonto. "
                 "Services that need a confirmed identity are no longer available to you with it.\n\n"
                 "If you have questions, please contact the Bürgerbüro. You can have your identity "
                 "confirmed again at any time:\n%(url)s"))


def _mail(account: Account, subject: str, text: str, **values) -> None:
    with force_locale(account.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        mail.queue(account.email, _(subject), _(text, url=_external("/account/identity"), **values))


# --- levels ---------------------------------------------------------------------------------


def live_verification(account: Account) -> Verification | None:
    """The newest confirmed, unrevoked verification whose document has not expired."""
    if account is None or account.id is None:
        return None
    return (Verification.query.filter_by(account_id=account.id, status="confirmed")
            .filter(Verification.document_expires_on >= today())
            .order_by(Verification.verified_at.desc(), Verification.id.desc()).first())


def proofing_level(account: Account) -> str:
    verification = live_verification(account)
    return verification.level if verification else "low"


def notify_expiring(days: int) -> list[int]:
    """Mail citizens whose confirmed identity lapses within ``days``; once per verification."""
    horizon = today() + timedelta(days=days)
    due = (Verification.query.filter_by(status="confirmed")
           .filter(Verification.expiry_notified_at.is_(None),
                   Verification.document_expires_on >= today(),
                   Verification.document_expires_on <= horizon)
           .order_by(Verification.id).all())
    queued = []
    for verification in due:
        verification.expiry_notified_at = utcnow()
        account = verification.account
        if not account.email:
            continue
        with force_locale(account.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            from flask_babel import format_date

            message = mail.queue(account.email, _("Your confirmed identity will lapse soon"), _(
                "The ID document you showed at the Bürgerbüro expires on %(date)s. From then on your "
                "Bürgerkonto no longer counts as confirmed.\n\nTo keep it, show your new document at any "
                "Bürgerbüro; start here:\n%(url)s",
                date=format_date(verification.document_expires_on, "long"),
                url=_external("/account/identity")))
        queued.append(message.id)
        events.record("trust:verification:expiry_notice", account.id, verification=verification.public_id)
    return queued


# --- data protection ------------------------------------------------------------------------


def export(account: Account) -> dict:
    """What this part holds about the citizen (DSGVO Art. 15): checks and verification records."""
    def iso(value):
        return value.isoformat() if value else None

    return {
        "checks": [
            {"created_at": iso(c.created_at), "expires_at": iso(c.expires_at), "status": c.status,
             **{field: iso(getattr(c, field)) if field == "birthdate" else getattr(c, field)
                for field in PERSON_FIELDS}}
            for c in IdentityCheck.query.filter_by(account_id=account.id).order_by(IdentityCheck.id)
        ],
        "verifications": [
            {"id": v.public_id, "status": v.status, "level": v.level, "verified_at": iso(v.verified_at),
             "office": v.office.name, "document_type": v.document_type,
             "document_country": v.document_country, "document_expires_on": iso(v.document_expires_on),
             "document_number": "stored only as a keyed hash: " + v.document_hash,
             "revoked_at": iso(v.revoked_at), "revoke_reason": v.revoke_reason,
             **{field: iso(getattr(v, field)) if field == "birthdate" else getattr(v, field)
                for field in PERSON_FIELDS}}
            for v in Verification.query.filter_by(account_id=account.id).order_by(Verification.id)
        ],
    }


def _citizen_account(id_or_email: str) -> Account:
    linked = Account.query.filter(or_(Account.uuid == id_or_email.strip(),
                                      Account.email == id_or_email.strip().lower())).first()
    if linked is None:
        raise InvalidInput("There is no citizen account with this id or e-mail address.")
    return linked


def link_citizen_account(staff: StaffMember, citizen_account: str) -> Account:
    """Bind a staff member to their own citizen account (``staff link``): they can never confirm it."""
    linked = _citizen_account(citizen_account)
    staff.citizen_account_id = linked.id
    events.record("trust:staff:citizen_link", linked.id, staff_id=staff.id)
    return linked


def delete_for_account(account: Account) -> None:
    """With the account go its checks and verification records; the audit log keeps bare ids.

    A staff member's own account going ends its binding: a security event says so, since a new account
    of theirs is unknown here until it is linked again (``staff link``), and the e-mail rule alone then
    keeps them from confirming it.
    """
    Verification.query.filter_by(account_id=account.id).delete()
    IdentityCheck.query.filter_by(account_id=account.id).delete()
    for staff in StaffMember.query.filter_by(citizen_account_id=account.id).all():
        staff.citizen_account_id = None
        # An event of the staff member's (the account's own events lose their details with it).
        events.record("trust:staff:citizen_link_ended", None, staff_id=staff.id, office_id=staff.office_id,
                      reason="account-deleted")


def audit_entries_for(staff: StaffMember, limit: int = 200) -> list[AuditEntry]:
    return audit.for_office(staff.office_id, limit)
