"""The account service: one function per use case, called by the web views and the CLI.

Functions change the session's transaction and queue mail; the caller commits.
They never reveal whether an address has an account (no enumeration): the
outcome a caller can show is the same either way.
"""

from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app, url_for
from flask_babel import force_locale, gettext as _
from sqlalchemy import bindparam, null, select
from sqlalchemy.exc import IntegrityError

from . import events, mail, passwords, signed_tokens, throttle, totp
from .auth import end_all_sessions
from .extensions import db
from .hooks import hooks
from .models import Account, Event, MailOutbox, RecoveryCode, WebSession
from .timeutil import utcnow

MAX_EMAIL_LENGTH = 254


def N_(text: str) -> str:
    """Mark a mail subject or text for translation; it is translated when the mail is written."""
    return text


class InvalidEmail(ValueError):
    """The address is malformed, too long, or not deliverable in form."""


class PasswordRejected(ValueError):
    """The new password breaks the policy; ``problems`` says why."""

    def __init__(self, problems):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class WrongPassword(Exception):
    """The current password given to confirm a change was wrong."""


class SignInAgain(Exception):
    """An account without a password (made through the Land's service account) confirms a change
    by a sign-in of the last few minutes (``RECENT_SIGN_IN``); this one is older."""


# How recent a sign-in stands in for the password (ASVS V7.5.1: re-authenticate before changes).
RECENT_SIGN_IN = timedelta(minutes=5)


class LinkExpired(Exception):
    """A genuine e-mail link that is too old."""


class LinkInvalid(Exception):
    """A forged, altered or already used e-mail link."""


def normalise_email(raw: str) -> str:
    """One canonical form per address: trimmed, IDNA domain, lower case. Raises ``InvalidEmail``."""
    raw = (raw or "").strip()
    if not raw or len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(raw)
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(raw) from exc
    normalised = result.normalized.lower()
    # RFC 5321 limits: 64 octets before the @, 254 in all; mail servers refuse longer ones.
    if len(normalised) > MAX_EMAIL_LENGTH or len(result.local_part.encode()) > 64:
        raise InvalidEmail(raw)
    return normalised


def find_by_email(email: str) -> Account | None:
    try:
        return _by_normalised_email(normalise_email(email))
    except InvalidEmail:
        return None


# Every sign-in reads the account by its address: built once (0.32 ms CPU in-process; the ORM query
# built per call took 0.52).
_BY_EMAIL = select(Account).where(Account.email == bindparam("email"))


def _by_normalised_email(email: str) -> Account | None:
    return db.session.execute(_BY_EMAIL, {"email": email}).scalars().first()


def _check_policy(password: str, email: str | None) -> None:
    problems = passwords.policy_problems(password, email)
    if problems:
        raise PasswordRejected(problems)


def _external_url(endpoint: str, **values) -> str:
    return current_app.config["ISSUER"] + url_for(endpoint, **values)


def _mail_allowed(email: str) -> bool:
    """Whether one more of the mails anyone can ask for (a reset link, a confirmation link, a
    registration notice) may go to ``email``. Every such request counts for its address, with an
    account or without (the same statements either way): five go out, then the waits double
    (``throttle.ration``). Limits per client address alone let one person, from many addresses,
    fill a citizen's mailbox through this service."""
    try:
        return throttle.ration(throttle.mail_key(normalise_email(email)))
    except InvalidEmail:
        return False


def _mail(account_or_address, locale: str | None, subject: str, body_fn) -> None:
    address = account_or_address if isinstance(account_or_address, str) else account_or_address.email
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        mail.queue(address, _(subject), body_fn())


# --- creation -------------------------------------------------------------------------------


def create_account(email: str, password: str | None, name: str | None = None,
                   verified: bool = False, locale: str | None = None, **profile) -> Account:
    """Create an account (operator or federation); raises on an address already in use."""
    email_norm = normalise_email(email) if email else None
    if password is not None:
        _check_policy(password, email_norm)
    account = Account(
        email=email_norm,
        password_hash=passwords.hash_password(password) if password else None,
        password_changed_at=utcnow() if password else None,
        name=(name or "").strip() or None,
        email_verified_at=utcnow() if verified else None,
        locale=locale,
        **profile,
    )
    db.session.add(account)
    db.session.flush()
    events.record("account:create", account.id, verified=verified)
    return account


@dataclass
class Registration:
    """What the registration form may show: always the same, whether or not the address was taken."""

    email: str


def register(email: str, password: str, name: str | None, locale: str | None) -> Registration:
    """Self-registration. A taken address gets a notice by mail instead; the caller can't tell."""
    email_norm = normalise_email(email)
    _check_policy(password, email_norm)
    existing = Account.query.filter_by(email=email_norm).first()
    mail_allowed = _mail_allowed(email_norm)
    if existing is not None:
        # Still pay for the hash so the answer takes as long as a real registration.
        passwords.hash_password(password)
        if mail_allowed:
            _mail(existing, existing.locale or locale, N_("Registration attempt with your address"),
                  lambda: _(
                      "Someone tried to register a Bürgerkonto with this e-mail address, which already "
                      "has an account.\n\nIf that was you, sign in or reset your password:\n%(url)s\n\n"
                      "If not, you can ignore this message.",
                      url=_external_url("auth.forgot_password")))
        events.record("account:register:duplicate", existing.id)
        return Registration(email_norm)
    try:
        with db.session.begin_nested():
            account = create_account(email_norm, password, name, locale=locale)
    except IntegrityError:
        # A parallel registration of the same address won the race: the same answer.
        return Registration(email_norm)
    send_email_confirmation(account)
    return Registration(email_norm)


def send_email_confirmation(account: Account) -> None:
    token = signed_tokens.dump(signed_tokens.EMAIL_CONFIRM, {"a": account.uuid, "e": account.email})
    _mail(account, account.locale, N_("Please confirm your e-mail address"),
          lambda: _(
              "Welcome to the Bürgerkonto.\n\nPlease confirm your e-mail address within 24 hours "
              "by opening this link:\n%(url)s\n\nIf you did not register, ignore this message; "
              "the account stays unusable.",
              url=_external_url("auth.confirm_email", token=token)))


def resend_confirmation(email: str) -> None:
    """Send the confirmation again, only to unconfirmed accounts; silent otherwise (every answer
    does the same database work but the outbox row, see ``request_password_reset``)."""
    account = find_by_email(email)
    if _mail_allowed(email) and account is not None and not account.email_verified:
        send_email_confirmation(account)


def confirm_email(token: str) -> Account:
    """Mark the address confirmed. The link works once: it binds the unconfirmed state."""
    payload = _load(signed_tokens.EMAIL_CONFIRM, token)
    account = _locked(Account.query.filter_by(uuid=payload.get("a")))
    if account is None or account.email != payload.get("e") or account.email_verified:
        raise LinkInvalid()
    account.email_verified_at = utcnow()
    events.record("account:email:verified", account.id)
    return account


def _load(kind, token: str) -> dict:
    try:
        return signed_tokens.load(kind, token)
    except signed_tokens.TokenExpired as exc:
        raise LinkExpired() from exc
    except signed_tokens.TokenInvalid as exc:
        raise LinkInvalid() from exc


# --- signing in -----------------------------------------------------------------------------


def authenticate(email: str, password: str, ip_address: str | None) -> Account | None:
    """Check e-mail and password with throttling; ``None`` for any failure (same cost either way).

    Raises ``throttle.Throttled`` before doing any work when the account or the
    address is locked.
    """
    try:
        email_norm = normalise_email(email)
    except InvalidEmail:
        email_norm = (email or "").strip().lower()[:MAX_EMAIL_LENGTH]
    keys = (throttle.account_key(email_norm), throttle.ip_key(ip_address))
    counting = throttle.check(*keys)
    account = _by_normalised_email(email_norm) if email_norm else None
    ok, rehash = passwords.verify_password(account.password_hash if account else None, password)
    if not ok:
        _count_failure(keys, account.id if account else None, "password")
        events.record("account:login:failure", account.id if account else None, reason="password")
        return None
    if rehash:
        account.password_hash = passwords.hash_password(password)
        events.record("account:password:rehash", account.id)
    throttle.succeed(keys[0], counting)
    return account


def check_second_factor(account: Account, code: str, ip_address: str | None) -> str | None:
    """Check a TOTP or recovery code with throttling; return the ``amr`` method or ``None``."""
    keys = (throttle.account_key(f"totp:{account.id}"), throttle.ip_key(ip_address))
    counting = throttle.check(*keys)
    cleaned = "".join((code or "").split())
    if totp.ascii_digits(cleaned) and totp.consume_code(account, cleaned):
        throttle.succeed(keys[0], counting)
        return "otp"
    if not totp.ascii_digits(cleaned) and totp.consume_recovery_code(account, cleaned):
        throttle.succeed(keys[0], counting)
        events.record("account:recovery_code:used", account.id,
                      remaining=totp.remaining_recovery_codes(account))
        return "otp"
    _count_failure(keys, account.id, "second-factor")
    events.record("account:login:failure", account.id, reason="second-factor")
    return None


def _count_failure(keys, account_id: int | None, reason: str) -> None:
    """Count a failed attempt; record a lockout event when it locks the account or the address."""
    locked = throttle.fail(*keys)
    if locked:
        scopes = sorted({"address" if key.startswith("ip:") else "account" for key in locked})
        events.record("account:login:lockout", account_id, reason=reason, scopes=scopes)


def confirm_identity(account: Account, password: str | None, ip_address: str | None, signed_in_at) -> None:
    """Before a sensitive change: the account's password (``verify_current_password``), or for an
    account without one a sign-in at ``signed_in_at`` within ``RECENT_SIGN_IN`` (``SignInAgain``).
    Without this, whoever held such an account's session, however old, could delete it."""
    if account.password_hash:
        verify_current_password(account, password, ip_address)
    elif not signed_in_recently(signed_in_at):
        raise SignInAgain()


def signed_in_recently(signed_in_at) -> bool:
    """Whether a sign-in at ``signed_in_at`` is recent enough to stand in for the password."""
    return signed_in_at is not None and utcnow() - signed_in_at <= RECENT_SIGN_IN


def verify_current_password(account: Account, password: str, ip_address: str | None) -> None:
    """Re-authentication for sensitive changes; throttled like sign-in. Raises ``WrongPassword``."""
    keys = (throttle.account_key(account.email or f"id:{account.id}"), throttle.ip_key(ip_address))
    throttle.check(*keys)
    ok, _rehash = passwords.verify_password(account.password_hash, password or "")
    if not ok:
        _count_failure(keys, account.id, "reauthentication")
        events.record("account:reauth:failure", account.id)
        raise WrongPassword()


# --- password -------------------------------------------------------------------------------


def request_password_reset(email: str, locale: str | None) -> None:
    """Mail a reset link when the address has an account; silent otherwise.

    The answer must not tell whether the address has an account, by its time either: an unknown
    address records its event too (a trail of them from one address is someone probing), so
    both do the same statements but the outbox row; the endpoint's rate limit does the rest.
    """
    account = find_by_email(email)
    mail_allowed = _mail_allowed(email)
    if account is None:
        events.record("account:password:reset_requested_unknown")
        return
    if not mail_allowed:  # the address had its share of reset mails for now: the same answer
        events.record("account:password:reset_rationed", account.id)
        return
    token = signed_tokens.dump(signed_tokens.PASSWORD_RESET,
                               {"a": account.uuid, "p": _credentials_fingerprint(account)})
    _mail(account, account.locale or locale, N_("Reset your Bürgerkonto password"),
          lambda: _(
              "Someone asked to reset the password of your Bürgerkonto.\n\nTo choose a new "
              "password, open this link within one hour:\n%(url)s\n\nIf that was not you, ignore "
              "this message; your password stays as it is.",
              url=_external_url("auth.reset_password", token=token)))
    events.record("account:password:reset_requested", account.id)


def _credentials_fingerprint(account: Account) -> str:
    """What a mailed link that takes over the account is bound to: the password and the address.

    A new password (reset or change) kills a pending e-mail-change link, so whoever knew the old
    password and asked to move the account to their address loses that link with the password;
    a new address kills reset links still lying in the old mailbox.
    """
    from .crypto import keyed_hash

    return keyed_hash(f"{account.id}:{account.password_hash}:{account.password_changed_at}:{account.email}",
                      "pw-fp")[:16]


def _locked(query) -> Account | None:
    """The account, its row locked until the transaction ends (PostgreSQL), read fresh.

    A link that works once is checked against the account's state (unconfirmed, the password it was
    sent for). Two requests with one link at the same moment both read the old state and both went
    through: two passwords set from one reset link, two confirmations. Locked, the second waits for
    the first and then reads the state the first left. Fresh: the account may already sit in the
    session (the browser's own session loads it), and the lock is worth only what is read after it.
    """
    return query.with_for_update().populate_existing().first()


def account_for_reset(token: str, lock: bool = False) -> Account:
    """The account a reset link is for, while the link is still good; ``lock`` to use it."""
    payload = _load(signed_tokens.PASSWORD_RESET, token)
    query = Account.query.filter_by(uuid=payload.get("a"))
    account = _locked(query) if lock else query.first()
    if account is None or payload.get("p") != _credentials_fingerprint(account):
        raise LinkInvalid()
    return account


def reset_password(token: str, new_password: str) -> tuple[Account, list[WebSession]]:
    """Set a new password from a reset link; ends every session. Does not sign in (no TOTP bypass)."""
    account = account_for_reset(token, lock=True)
    _check_policy(new_password, account.email)
    _set_password(account, new_password)
    if not account.email_verified:
        # Opening the link proved control of the mailbox.
        account.email_verified_at = utcnow()
    events.record("account:password:reset", account.id)
    ended = end_all_sessions(account.id, "password-reset")
    return account, ended


def change_password(account: Account, current: str, new: str, ip_address, keep) -> list[WebSession]:
    verify_current_password(account, current, ip_address)
    _check_policy(new, account.email)
    _set_password(account, new)
    events.record("account:password:change", account.id)
    _notify(account, N_("Your password was changed"),
            N_("The password of your Bürgerkonto was just changed. If that was not you, reset it "
            "now and contact the Bürgerbüro."))
    # Other sessions may belong to whoever knew the old password.
    return end_all_sessions(account.id, "password-change", keep=keep)


def _set_password(account: Account, password: str) -> None:
    account.password_hash = passwords.hash_password(password)
    account.password_changed_at = utcnow()


def _notify(account: Account, subject: str, text: str) -> None:
    if account.email:
        _mail(account, account.locale, subject, lambda: _(text))


# --- e-mail change --------------------------------------------------------------------------


def request_email_change(account: Account, password: str | None, new_email: str, ip_address, signed_in_at) -> str:
    """Send a confirmation link to the new address; the old one counts until it is used."""
    confirm_identity(account, password, ip_address, signed_in_at)
    new_norm = normalise_email(new_email)
    token = signed_tokens.dump(signed_tokens.EMAIL_CHANGE,
                               {"a": account.uuid, "old": account.email, "new": new_norm,
                                "p": _credentials_fingerprint(account)})
    if Account.query.filter(Account.email == new_norm).first() is None:
        _mail(new_norm, account.locale, N_("Confirm your new e-mail address"),
              lambda: _(
                  "Please confirm the new e-mail address of your Bürgerkonto within 24 hours:\n"
                  "%(url)s", url=_external_url("account.confirm_email_change", token=token)))
    events.record("account:email:change_requested", account.id)
    return new_norm


def confirm_email_change(token: str) -> Account:
    payload = _load(signed_tokens.EMAIL_CHANGE, token)
    account = Account.query.filter_by(uuid=payload.get("a")).first()
    if account is None or account.email != payload.get("old") or \
            payload.get("p") != _credentials_fingerprint(account):
        raise LinkInvalid()
    old = account.email
    if Account.query.filter(Account.email == payload["new"]).first() is not None:
        raise LinkInvalid()
    account.email = payload["new"]
    account.email_verified_at = utcnow()
    events.record("account:email:change", account.id)
    if old:
        _mail(old, account.locale, N_("Your e-mail address was changed"),
              lambda: _("The e-mail address of your Bürgerkonto was changed to another address. "
                        "If that was not you, contact the Bürgerbüro."))
    return account


# --- second factor --------------------------------------------------------------------------


def enable_totp(account: Account, secret: str, code: str) -> list[str] | None:
    """Switch TOTP on once the first code matches; returns the recovery codes to show once."""
    if not totp.consume_code(account, code, secret=secret):
        return None
    account.totp_secret = totp.encrypt_secret(secret, account.id)
    account.totp_enabled_at = utcnow()
    codes = totp.new_recovery_codes(account)
    events.record("account:totp:enable", account.id)
    _notify(account, N_("Two-step sign-in switched on"),
            N_("Two-step sign-in with an authenticator app is now on for your Bürgerkonto."))
    return codes


def disable_totp(account: Account, password: str | None, ip_address, signed_in_at) -> None:
    confirm_identity(account, password, ip_address, signed_in_at)
    account.totp_secret = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    RecoveryCode.query.filter_by(account_id=account.id).delete()
    events.record("account:totp:disable", account.id)
    _notify(account, N_("Two-step sign-in switched off"),
            N_("Two-step sign-in was switched off for your Bürgerkonto. If that was not you, "
            "change your password now."))


def regenerate_recovery_codes(account: Account, password: str | None, ip_address, signed_in_at) -> list[str]:
    confirm_identity(account, password, ip_address, signed_in_at)
    codes = totp.new_recovery_codes(account)
    events.record("account:recovery_codes:regenerate", account.id)
    return codes


# --- profile, export, deletion --------------------------------------------------------------


PROFILE_FIELDS = ("name", "given_name", "family_name", "phone_number")


def update_profile(account: Account, **values) -> None:
    for field in PROFILE_FIELDS:
        if field in values:
            setattr(account, field, (values[field] or "").strip() or None)
    if "address" in values:
        account.address = values["address"] or None
    events.record("account:profile:update", account.id)


def export_data(account: Account) -> dict:
    """All data the service holds about the citizen (DSGVO Art. 15, 20)."""
    data = {
        "account": {
            "id": account.uuid,
            "email": account.email,
            "email_verified": account.email_verified,
            "name": account.name,
            "given_name": account.given_name,
            "family_name": account.family_name,
            "phone_number": account.phone_number,
            "address": account.address,
            "locale": account.locale,
            "created_at": account.created_at.isoformat() + "Z",
            "two_step_sign_in": account.totp_enabled,
        },
        "sessions": [
            {"created_at": s.created_at.isoformat() + "Z", "last_seen_at": s.last_seen_at.isoformat() + "Z",
             "ended_at": s.ended_at.isoformat() + "Z" if s.ended_at else None,
             "user_agent": s.user_agent, "ip_address": s.ip_address}
            for s in WebSession.query.filter_by(account_id=account.id).order_by(WebSession.id)
        ],
        "security_events": [
            {"tag": e.tag, "at": e.created_at.isoformat() + "Z", "ip_address": e.ip_address}
            for e in Event.query.filter_by(account_id=account.id).order_by(Event.id)
        ],
    }
    for name, exporter in hooks().exporters.items():
        data[name] = exporter(account)
    return data


def delete_account(account: Account, password: str | None, ip_address, signed_in_at) -> list[WebSession]:
    """Delete the account and its personal data; sessions end (portals are told)."""
    confirm_identity(account, password, ip_address, signed_in_at)
    ended = end_all_sessions(account.id, "account-deleted")
    for deleter in hooks().deleters:
        deleter(account)
    events.record("account:delete", account.id)
    db.session.flush()
    # Security events stay as bare records (tag, time, account id); their addresses
    # and details are personal data and go, the deletion event's own included.
    Event.query.filter_by(account_id=account.id).update({"ip_address": None, "details": null()})
    # Sessions carry the devices' addresses and user agents; mail carries the address.
    WebSession.query.filter_by(account_id=account.id).delete()
    if account.email:
        MailOutbox.query.filter_by(recipient=account.email).delete()
    db.session.delete(account)
    return ended
