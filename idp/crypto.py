"""Keys derived from the service secret, and authenticated encryption of stored secrets.

Every purpose gets its own key, derived with HKDF from the one configured
secret, so that a signed e-mail link can never be replayed as, say, a wrapped
signing key.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def derive_key(purpose: str, secret: str | None = None) -> bytes:
    """Return 32 bytes for ``purpose``, derived from the service secret."""
    secret = secret if secret is not None else current_app.config["SECRET_KEY"]
    return _derive(str(secret), purpose)


@lru_cache(maxsize=256)
def _derive(secret: str, purpose: str) -> bytes:
    # Token hashing, client secrets and subjects derive keys on every request: derive each once.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"buergerkonto", info=purpose.encode()).derive(secret.encode())


def encrypt(plaintext: bytes, purpose: str, associated: bytes = b"") -> str:
    """Encrypt with AES-256-GCM under the key for ``purpose``; returns url-safe text."""
    nonce = os.urandom(12)
    sealed = AESGCM(derive_key(purpose)).encrypt(nonce, plaintext, associated)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(token: str, purpose: str, associated: bytes = b"") -> bytes:
    """Reverse ``encrypt``; raises ``cryptography.exceptions.InvalidTag`` on tampering."""
    raw = base64.urlsafe_b64decode(token.encode())
    return AESGCM(derive_key(purpose)).decrypt(raw[:12], raw[12:], associated)


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of ``value`` under the key for ``purpose`` (hex)."""
    return hmac.digest(derive_key(purpose), value.encode(), "sha256").hex()


def sector_value(purpose: str, sector: str, value: str) -> str:
    """``value`` as the portals of ``sector`` see it: HMAC-SHA256 of both under the key for
    ``purpose``, URL-safe base64 (43 characters). Pairwise subjects and per-sector ``sid``s."""
    digest = hmac.digest(derive_key(purpose), f"{sector}\x00{value}".encode(), "sha256")  # (one-shot: in C)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sha256_hex(value: str) -> str:
    """Plain SHA-256, for high-entropy random tokens where a salt adds nothing."""
    return hashlib.sha256(value.encode()).hexdigest()
