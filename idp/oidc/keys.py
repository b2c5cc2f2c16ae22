"""Signing keys in the database, shared by every app instance.

The private JWK is encrypted under a key derived from the service secret
(``crypto.encrypt``); the public JWK is stored in the clear for the JWKS.
One key per algorithm is active; ``rotate`` retires the current ones, which
stay published for ``publish_window()`` so that tokens they signed (ID tokens,
logout tokens, JWT access tokens) keep verifying until they expire.

A portal sends an ID token back as ``id_token_hint`` (RP-initiated logout,
``prompt=none``) long after it expired: as long as the sign-in it came from
can last. Retired keys therefore stay stored, unpublished, for ``hint_window()``
and verify hints (``hint_key_set``) until ``purge_retired`` removes them.
"""

import json
from datetime import timedelta

from flask import current_app
from joserfc.jwk import ECKey, KeySet, RSAKey, import_key

from .. import crypto, events
from ..cache import cache, detached_copy, forget, forget_on_change
from ..extensions import db
from ..timeutil import utcnow
from .models import ID_TOKEN_ALGORITHMS, SigningKey

KEY_PURPOSE = "oidc-signing-key"


def publish_window() -> timedelta:
    """How long a retired key stays in the JWKS: longer than any token it signed lives."""
    lifetime = max(current_app.config["OIDC_ID_TOKEN_LIFETIME"], current_app.config["OIDC_LOGOUT_TOKEN_LIFETIME"],
                   current_app.config["OIDC_ACCESS_TOKEN_LIFETIME"])
    return timedelta(seconds=lifetime) + timedelta(minutes=5)


def hint_window() -> timedelta:
    """How long a retired key still verifies ID token hints: as long as a sign-in with an ID token
    it signed can last, a browser session's absolute lifetime or, with offline access, the grant's
    refresh lifetime (and never less than the publish window)."""
    config = current_app.config
    return max(publish_window(), config["SESSION_ABSOLUTE_TIMEOUT"],
               timedelta(seconds=config["OIDC_REFRESH_TOKEN_LIFETIME"]))


def _generate(alg: str):
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(2048, private=True)


def create_key(alg: str) -> SigningKey:
    """Generate and store a new active key for ``alg``."""
    key = _generate(alg)
    kid = key.thumbprint()
    public = dict(key.as_dict(private=False), kid=kid, alg=alg, use="sig")
    private = json.dumps(dict(key.as_dict(private=True), kid=kid, alg=alg))
    record = SigningKey(kid=kid, alg=alg, public_jwk=public, active=True,
                        private_jwk=crypto.encrypt(private.encode(), KEY_PURPOSE, kid.encode()))
    db.session.add(record)
    return record


def ensure_keys() -> None:
    """Create an active key for each algorithm that has none (first start)."""
    created = False
    for alg in ID_TOKEN_ALGORITHMS:
        if SigningKey.query.filter_by(alg=alg, active=True).first() is None:
            create_key(alg)
            created = True
    if created:
        db.session.commit()


def rotate() -> list[SigningKey]:
    """Retire the active keys and create new ones; retired keys stay published for a while."""
    now = utcnow()
    for record in SigningKey.query.filter_by(active=True).all():
        record.active = False
        record.retired_at = now
    new = [create_key(alg) for alg in ID_TOKEN_ALGORITHMS]
    events.record("oidc:keys:rotate", None, kids=[k.kid for k in new])
    return new


def active_key(alg: str) -> SigningKey:
    """The key that signs with ``alg`` now (from the process's key cache, see ``idp.cache``)."""
    return db.session.merge(cache("signing_keys").get(alg, lambda: detached_copy(_load_active(alg))), load=False)


def active_private_key(alg: str):
    """The joserfc private key (with its ``kid``) that signs with ``alg`` now, without touching a session.

    For the hot path of stateless tokens: the cached detached record is only read, never merged.
    """
    return private_key(cache("signing_keys").get(alg, lambda: detached_copy(_load_active(alg))))


def _load_active(alg: str) -> SigningKey:
    record = (SigningKey.query.filter_by(alg=alg, active=True)
              .order_by(SigningKey.created_at.desc(), SigningKey.id.desc()).first())
    if record is None:
        ensure_keys()
        return _load_active(alg)
    return record


def private_key(record: SigningKey):
    """The joserfc key object of ``record``, decrypted (once per process and key: keys never change)."""
    cache = current_app.extensions.setdefault("buergerkonto.private_keys", {})
    cache_key = (record.kid, record.private_jwk)
    key = cache.get(cache_key)
    if key is None:
        data = json.loads(crypto.decrypt(record.private_jwk, KEY_PURPOSE, record.kid.encode()))
        key = cache[cache_key] = (ECKey if record.alg == "ES256" else RSAKey).import_key(data)
    return key


def is_published(record: SigningKey) -> bool:
    """Active, or retired recently enough that tokens it signed may still be live."""
    return record.active or (record.retired_at is not None and record.retired_at > utcnow() - publish_window())


def published_keys() -> list[SigningKey]:
    return [record for record in SigningKey.query.order_by(SigningKey.id).all() if is_published(record)]


def public_jwks() -> dict:
    """The published keys (cached like the signing keys; a rotation elsewhere shows within seconds)."""
    def load():
        ensure_keys()
        return {"keys": [record.public_jwk for record in published_keys()]}

    return cache("jwks").get("jwks", load)


forget_on_change(SigningKey, "signing_keys", "jwks", "jwks_key_set", "hint_key_set")


def public_key_set() -> KeySet:
    """The published keys as a joserfc key set (cached: importing EC and RSA keys on every call costs)."""
    return cache("jwks_key_set").get("keys", lambda: KeySet.import_key_set(public_jwks()))


def hint_key_set() -> KeySet:
    """Every signing key not yet purged, published or not, for ``id_token_hint`` (cached like the JWKS).

    Only for hints: a hint is a token the portal got from us and hands back, it grants nothing,
    and its expiry does not count. Tokens that grant something verify against the published keys.
    """
    def load():
        ensure_keys()
        return KeySet.import_key_set({"keys": [record.public_jwk
                                               for record in SigningKey.query.order_by(SigningKey.id)]})

    return cache("hint_key_set").get("keys", load)


def verification_key(kid: str):
    """The published public key ``kid``, or None.

    A key created by a rotation in another process is not in this process's cached
    set for up to ``CACHE_SECONDS``; it is then looked up by its ``kid`` (one indexed
    query, no more than an opaque token's lookup costs) and the caches are renewed.
    """
    if not isinstance(kid, str) or not kid or len(kid) > 64:
        return None
    for key in public_key_set().keys:
        if key.kid == kid:
            return key
    record = SigningKey.query.filter_by(kid=kid).first()
    if record is None or not is_published(record):
        return None
    forget("jwks", "jwks_key_set")
    return import_key(record.public_jwk)


def purge_retired() -> int:
    """Delete keys retired longer ago than an ID token hint they signed can matter (``hint_window``)."""
    cutoff = utcnow() - hint_window()
    return SigningKey.query.filter(SigningKey.active.is_(False), SigningKey.retired_at < cutoff).delete()
