"""Signed, expiring links sent by e-mail. Each kind has its own salt and maximum age.

A link binds the state it acts on (the current e-mail, the password's last
change), so using it changes that state and the same link no longer verifies:
that is what makes each link single-use without a table of used tokens.
"""

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from . import crypto


@dataclass(frozen=True)
class TokenKind:
    salt: str
    max_age_setting: str


EMAIL_CONFIRM = TokenKind("email-confirm", "EMAIL_CONFIRM_MAX_AGE")
EMAIL_CHANGE = TokenKind("email-change", "EMAIL_CONFIRM_MAX_AGE")
PASSWORD_RESET = TokenKind("password-reset", "PASSWORD_RESET_MAX_AGE")


class TokenExpired(Exception):
    """The link was genuine but is too old."""


class TokenInvalid(Exception):
    """The link was forged, altered, or already used."""


def _serializer(kind: TokenKind) -> URLSafeTimedSerializer:
    secret = crypto.derive_key("signed-token:" + kind.salt).hex()
    return URLSafeTimedSerializer(secret, salt=kind.salt)


def dump(kind: TokenKind, payload: dict) -> str:
    return _serializer(kind).dumps(payload)


def load(kind: TokenKind, token: str) -> dict:
    """Verify signature and age; raise ``TokenExpired`` or ``TokenInvalid``."""
    if not token or len(token) > 1000:
        raise TokenInvalid()
    try:
        payload = _serializer(kind).loads(token, max_age=current_app.config[kind.max_age_setting])
    except SignatureExpired as exc:
        raise TokenExpired() from exc
    except BadSignature as exc:
        raise TokenInvalid() from exc
    if not isinstance(payload, dict):
        raise TokenInvalid()
    return payload
