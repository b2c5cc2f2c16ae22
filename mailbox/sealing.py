"""Envelope encryption of postbox content: a data key per message, wrapped by the KEK.

- Each message gets a random 256-bit data key. Subject, body, attachment
  names and contents are sealed with it (AES-256-GCM, a fresh 96-bit nonce
  each, the message id and field name as associated data, so a sealed value
  cannot be moved to another message or field).
- The data key is stored wrapped (AES-256-GCM again) by the key-encryption
  key (KEK), with the message id as associated data, and the KEK's id.
- The KEK comes from ``POSTBOX_KEK`` (32 bytes, base64 or base64url). When it
  is unset, it is derived from the service secret with HKDF (purpose
  ``postbox-kek``); changing the secret then changes the KEK, so a deployment
  that may rotate its secret sets ``POSTBOX_KEK`` explicitly.
- Rotation without downtime: put the new key in ``POSTBOX_KEK`` and the old
  one in ``POSTBOX_KEK_PREVIOUS`` (a list or a comma-separated string), roll
  the instances (all of them read with either key), then run
  ``buergerkonto keys rotate-postbox``, which re-wraps data keys in small
  batches (content is never re-encrypted). Afterwards the old key can go.
"""

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from ..idp.crypto import derive_key

NONCE = 12


class KeyUnavailable(RuntimeError):
    """A data key was wrapped by a KEK that is not configured (or the row was tampered with)."""


def _decode_key(value) -> bytes:
    if isinstance(value, bytes) and len(value) == 32:
        return value
    text = str(value).strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ValueError("A postbox key-encryption key must be 32 bytes, base64-encoded.")
    return raw


def kek_id(key: bytes) -> str:
    """A short public name for a KEK (a hash: it says which key, not what key)."""
    return hashlib.sha256(b"buergerkonto-postbox-kek\x00" + key).hexdigest()[:16]


def current_kek() -> tuple[str, bytes]:
    configured = current_app.config.get("POSTBOX_KEK")
    key = _decode_key(configured) if configured else derive_key("postbox-kek")
    return kek_id(key), key


def known_keks() -> dict[str, bytes]:
    """The current KEK and any previous ones still accepted for unwrapping."""
    kid, key = current_kek()
    keys = {kid: key}
    previous = current_app.config.get("POSTBOX_KEK_PREVIOUS") or []
    if isinstance(previous, str):
        previous = [p for p in previous.replace(" ", ",").split(",") if p]
    for value in previous:
        raw = _decode_key(value)
        keys.setdefault(kek_id(raw), raw)
    return keys


def check_configuration(app) -> None:
    """Fail at start-up, not at the first message, when a configured key is malformed."""
    with app.app_context():
        known_keks()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(data_key: bytes, message_id: str) -> tuple[str, bytes]:
    kid, key = current_kek()
    nonce = os.urandom(NONCE)
    return kid, nonce + AESGCM(key).encrypt(nonce, data_key, b"postbox-data-key\x00" + message_id.encode())


def unwrap(kid: str, wrapped: bytes, message_id: str) -> bytes:
    key = known_keks().get(kid)
    if key is None:
        raise KeyUnavailable(f"The postbox key {kid} is not configured.")
    try:
        return AESGCM(key).decrypt(wrapped[:NONCE], wrapped[NONCE:], b"postbox-data-key\x00" + message_id.encode())
    except InvalidTag:
        raise KeyUnavailable("A wrapped data key does not open.") from None


def seal(data_key: bytes, plaintext: bytes, message_id: str, field: str) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, f"{message_id}\x00{field}".encode())


def unseal(data_key: bytes, sealed: bytes, message_id: str, field: str) -> bytes:
    return AESGCM(data_key).decrypt(sealed[:NONCE], sealed[NONCE:], f"{message_id}\x00{field}".encode())
