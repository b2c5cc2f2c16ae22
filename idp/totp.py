"""TOTP second factor (RFC 6238) and recovery codes.

Codes are accepted one time step either side of now, and never twice: the
accepted step is recorded with a conditional update, so two requests racing
with the same code cannot both succeed.
"""

import secrets
import time

import pyotp
import segno
from sqlalchemy import or_, update

from . import crypto
from .extensions import db
from .models import Account, RecoveryCode
from .timeutil import utcnow

ISSUER_NAME = "Bürgerkonto"
_PURPOSE = "totp-secret"
_RECOVERY_PURPOSE = "recovery-code"
# Unambiguous characters for recovery codes (no 0/O, 1/I/L).
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RECOVERY_CODE_COUNT = 10


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt_secret(secret: str, account_id: int) -> str:
    return crypto.encrypt(secret.encode(), _PURPOSE, str(account_id).encode())


def decrypt_secret(stored: str, account_id: int) -> str:
    return crypto.decrypt(stored, _PURPOSE, str(account_id).encode()).decode()


def provisioning_uri(secret: str, label: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER_NAME)


def qr_svg(uri: str, title: str) -> str:
    """The provisioning URI as an inline SVG QR code with an accessible title."""
    qr = segno.make(uri, error="m")
    return qr.svg_inline(scale=4, title=title, dark="#000", light="#fff")


def ascii_digits(text: str) -> bool:
    """Only 0-9. ``str.isdigit`` alone also takes "١٢٣٤٥٦" or "²", which no authenticator shows
    and ``compare_digest`` refuses with an exception."""
    return text.isascii() and text.isdigit()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to, within one step either side; else None."""
    code = "".join(code.split())
    if not (ascii_digits(code) and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // totp.interval)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def consume_code(account: Account, code: str, secret: str | None = None) -> bool:
    """Accept ``code`` for ``account`` once. ``secret`` is for enrolment, before it is stored."""
    if secret is None:
        if not account.totp_secret:
            return False
        secret = decrypt_secret(account.totp_secret, account.id)
    step = matching_step(secret, code)
    return step is not None and claim_step(account, step)


def claim_step(holder, step: int) -> bool:
    """Record ``step`` as used on ``holder`` (any model with ``totp_last_step``) unless it, or a
    later step, was used already. A conditional update, so two racing requests can't both win."""
    model = type(holder)
    accepted = db.session.execute(
        update(model)
        .where(model.id == holder.id)
        .where(or_(model.totp_last_step.is_(None), model.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if accepted:
        holder.totp_last_step = step
    return accepted


def _format_recovery(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _recovery_hash(account_id: int, raw: str) -> str:
    """Keyed hash of a recovery code. The codes are random (50 bits) and the key is the
    service's, so a slow password hash would add nothing but ten argon2 runs per enrolment."""
    return crypto.keyed_hash(f"{account_id}:{raw}", _RECOVERY_PURPOSE)


def new_recovery_codes(account: Account) -> list[str]:
    """Replace the account's recovery codes with ten new ones; return them for showing once."""
    RecoveryCode.query.filter_by(account_id=account.id).delete()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(_format_recovery(raw))
        db.session.add(RecoveryCode(account_id=account.id, code_hash=_recovery_hash(account.id, raw)))
    return codes


def consume_recovery_code(account: Account, code: str) -> bool:
    """Use one recovery code; each works once (marked used by a conditional update)."""
    raw = normalise_recovery(code)
    if len(raw) != 10:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.account_id == account.id,
               RecoveryCode.code_hash == _recovery_hash(account.id, raw),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def remaining_recovery_codes(account: Account) -> int:
    return RecoveryCode.query.filter_by(account_id=account.id, used_at=None).count()
