"""Authlib grant subclasses: what the library leaves to the application, and its traps.

- PKCE with S256 from every client (``S256CodeChallenge``; trap 4).
- Codes redeemed once by a conditional UPDATE; a replay revokes what the
  first redemption issued (trap 5).
- Refresh tokens rotate; presenting a rotated one revokes the whole grant (trap 6).
- The ID token's algorithm, key and ``kid`` are decided here, never ``none``
  (traps 1 and 2); ``acr``, ``amr``, ``auth_time`` and ``sid`` (per sector,
  ``sids``) come from the sign-in and survive refreshes.
"""

import time
from datetime import timedelta

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from authlib.oidc.core import grants as oidc_grants
from flask import current_app, g
from sqlalchemy import bindparam, insert, select, update

from .. import events
from ..cache import cache
from ..extensions import db
from ..timeutil import utcnow
from . import access_tokens, bearer, claims, consents, keys, sids
from .models import AuthorizationCode, PortalSignIn, Token, hash_token

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
MAX_CREDENTIAL_LENGTH = 256


def revoke_grant(grant_id: str, reason: str) -> int:
    """Revoke every token of one grant (a code and all its refreshes) and commit at once.

    Called when a code or refresh token is replayed: the revocation must stand
    even though the request itself is refused (and its transaction rolled back).
    """
    count = revoke_tokens(Token.grant_id == grant_id)
    events.record("oidc:grant:revoke", None, grant_id=grant_id, reason=reason, tokens=count)
    db.session.commit()
    return count


def revoke_tokens(*conditions) -> int:
    """Revoke the stored tokens matching ``conditions`` (access and refresh), with any pair a refresh
    running at this moment makes from one of them; the number of rows revoked.

    A refresh holds the row it rotates locked until it has committed the new pair. A plain UPDATE
    waits for that lock but picks its rows from what was committed when it began (PostgreSQL's READ
    COMMITTED): the new pair was not among them and lived on, after the revocation had answered 200
    or the citizen was told the consent was withdrawn. The rows are locked first; the UPDATE that
    follows is a new statement and sees what the refresh committed meanwhile. A refresh that comes
    second finds its token revoked (``_ROTATE`` changes nothing) and is refused.
    """
    db.session.execute(select(Token.id).where(*conditions).with_for_update())
    now = int(time.time())
    return db.session.execute(
        update(Token).where(*conditions).values(access_token_revoked_at=now, refresh_token_revoked_at=now)
        .execution_options(synchronize_session=False)).rowcount


_INSERT_CODE = insert(AuthorizationCode.__table__)
# On the table, not the entity: the ORM's bulk UPDATE (which also looks for the code among the
# session's objects to set its ``used_at``) cost 3 % of a sign-in's CPU. Nothing reads the
# code's ``used_at`` again in the request that claims it.
_CLAIM_CODE = (update(AuthorizationCode.__table__)
               .where(AuthorizationCode.__table__.c.id == bindparam("code_id"),
                      AuthorizationCode.__table__.c.used_at.is_(None))
               .values(used_at=bindparam("now", type_=AuthorizationCode.__table__.c.used_at.type)))


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        """``redirect_uri`` is required (OIDC Core §3.1.2.1) and must match a registered one exactly."""
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(redirect_uri):
            # The URI is not echoed: Authlib refuses descriptions with some characters.
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return redirect_uri

    def validate_authorization_request(self):
        """Validated once per grant object.

        ``get_consent_grant`` validates the request and keeps the redirect URI on the grant; Authlib's
        ``create_authorization_response`` validates that same grant again, as if it might come from an
        earlier HTTP request. Here a grant never outlives the request that made it (``authorize``), so
        the second pass would only repeat the first: about 120 Python calls of every sign-in.
        """
        if self.redirect_uri is not None:
            return self.redirect_uri
        return super().validate_authorization_request()

    def save_authorization_code(self, code, request):
        """One INSERT built once (``_INSERT_CODE``): nothing reads the code back in this request."""
        context = request.oidc
        db.session.execute(_INSERT_CODE, dict(
            code=hash_token(code),
            client_id=request.client.client_id,
            account_id=request.user.id,
            redirect_uri=request.payload.redirect_uri,
            response_type=request.payload.response_type,
            scope=context["scope"],
            nonce=request.payload.data.get("nonce"),
            auth_time=context["auth_time"],
            acr=context["acr"],
            amr=" ".join(context["amr"]),
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            sid=context["sid"],
            claims_request=context["claims_request"],
            issued_at=int(time.time()),
        ))

    def query_authorization_code(self, code, client):
        if not isinstance(code, str) or len(code) > MAX_CREDENTIAL_LENGTH:
            return None
        item = bearer.read_code(hash_token(code), client.client_id)  # as values: only statements change it
        if item is None:
            return None
        if item.used_at is not None:
            revoke_grant(item.grant_id, "code-replay")
            return None
        if item.is_expired():
            return None
        return item

    def create_token_response(self):
        """Claim the code with a conditional UPDATE first: of two redemptions only one wins."""
        code = self.request.authorization_code
        claimed = db.session.execute(_CLAIM_CODE, {"code_id": code.id, "now": utcnow()}).rowcount
        if claimed != 1:
            db.session.rollback()
            revoke_grant(code.grant_id, "code-replay")
            raise InvalidGrantError("The code was used already.")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code):
        """Keep the used code: a later replay must be recognised (`buergerkonto purge` removes it after a day)."""

    def authenticate_user(self, authorization_code):
        return authorization_code.account


class S256CodeChallenge(CodeChallenge):
    """PKCE required from every client, S256 only (``plain`` and missing challenges refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


# Built once (as ``models.token_by_hash``): building it per request cost its coercions and cache key.
_ROTATE = (update(Token.__table__)
           .where(Token.__table__.c.id == bindparam("token_id"), Token.__table__.c.refresh_rotated_at.is_(None),
                  Token.__table__.c.refresh_token_revoked_at == 0)
           .values(refresh_rotated_at=bindparam("now")))


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        if not isinstance(refresh_token, str) or len(refresh_token) > MAX_CREDENTIAL_LENGTH:
            return None
        item = bearer.read_refresh(hash_token(refresh_token))  # as values: only statements change the row
        if item is None:
            return None
        if item.refresh_rotated_at is not None and not item.refresh_token_revoked_at:
            revoke_grant(item.grant_id, "refresh-replay")
            return None
        if not item.refresh_usable():
            return None
        item.client = self.request.client
        # The pair this refresh makes (tokens, ID token, introspection, the postbox's level gate)
        # asserts no more than the account's proofing still vouches for.
        item.acr = claims.still_held(item.acr, item.account)
        return item

    def authenticate_user(self, refresh_token):
        return refresh_token.account

    def create_token_response(self):
        """Rotate: mark the presented refresh token used with a conditional UPDATE, then issue.

        On the table, not the entity: the ORM's bulk-update path would also search the session
        for the objects to synchronise, and nothing reads ``old``'s rotation time afterwards.
        """
        old = self.request.refresh_token
        claimed = db.session.execute(_ROTATE, {"token_id": old.id, "now": int(time.time())}).rowcount
        if claimed != 1:
            db.session.rollback()
            revoke_grant(old.grant_id, "refresh-replay")
            raise InvalidGrantError("The refresh token was used already.")
        return super().create_token_response()

    def revoke_old_credential(self, refresh_token):
        """Done by the conditional UPDATE in ``create_token_response``."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """For portals calling the service's APIs; never carries citizen scopes."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def save_token(self, token):
        """Opaque tokens are stored (hashed); a JWT access token (RFC 9068) is stateless: nothing to store."""
        if not access_tokens.issues_jwt(self.GRANT_TYPE, self.request.client):
            super().save_token(token)


class _IDTokenMixin:
    """How this service signs ID tokens and what goes in them (code grant and refresh alike)."""

    def _key(self, client):
        cache = g.setdefault("oidc_signing_keys", {})
        alg = client.id_token_signed_response_alg
        if alg not in cache:
            cache[alg] = keys.active_key(alg)
        return cache[alg]

    def resolve_client_private_key(self, client):
        return keys.private_key(self._key(client))

    def get_client_algorithm(self, client):
        return client.id_token_signed_response_alg

    def get_encode_header(self, client):
        return {"alg": client.id_token_signed_response_alg, "kid": self._key(client).kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(time.time())
        return {"iss": current_app.config["ISSUER"], "aud": client.client_id, "iat": now,
                "exp": now + current_app.config["OIDC_ID_TOKEN_LIFETIME"]}

    def get_compatible_claims(self, request):
        result = super().get_compatible_claims(request)
        source = request.authorization_code or request.refresh_token
        if source is not None and source.sid:
            result["sid"] = sids.portal_sid(request.client, source.sid)
        old = request.refresh_token
        if old is not None and request.authorization_code is None:
            # A refresh keeps the level and time of the sign-in it came from (OIDC Core §12.2).
            result["auth_time"] = old.auth_time
            if old.acr:
                result["acr"] = old.acr
            if old.amr:
                result["amr"] = old.amr
        return result

    def encode_id_token(self, token, request):
        g.oidc_token_request = request
        return super().encode_id_token(token, request)

    def generate_user_info(self, user, scope):
        request = g.oidc_token_request
        source = request.authorization_code or request.refresh_token
        claims_request = consents.releasable_claims_request(request.client, user.id, source.claims_request)
        record = claims.session_for_verified_claims(source.sid, claims_request, "id_token")
        info = {"sub": claims.subject_for(request.client, user)}
        info.update(claims.id_token_extra_claims(user, scope, claims_request, record))
        _remember_released(request.client, user, source.sid, scope, list(info) + ["acr", "amr", "auth_time"])
        return info


# Built once: the ORM query built per sign-in cost three times this read's CPU.
_NONCE_SEEN = (select(AuthorizationCode.__table__.c.id)
               .where(AuthorizationCode.__table__.c.client_id == bindparam("client_id"),
                      AuthorizationCode.__table__.c.nonce == bindparam("nonce")).limit(1))


class OpenIDCode(_IDTokenMixin, oidc_grants.OpenIDCode):
    """ID tokens for the code grant; a nonce is accepted once per client."""

    def exists_nonce(self, nonce, request):
        # A nonce is refused when one of the portal's codes already carries it: what matters is the
        # pass that issues the code. Without a signed-in citizen no code is issued (the request goes
        # to the sign-in page and comes back), so that pass needs no query; the pass that issues
        # looks. Authlib asks twice in that pass (validating, then issuing): one query answers both.
        if request.user is None:
            return False
        seen = g.setdefault("oidc_nonce_seen", {})
        key = (request.payload.client_id, nonce)
        if key not in seen:
            seen[key] = db.session.execute(
                _NONCE_SEEN, {"client_id": request.payload.client_id, "nonce": nonce}).first() is not None
        return seen[key]


class OpenIDRefresh(_IDTokenMixin, oidc_grants.OpenIDToken):
    """A fresh ID token on refresh, with the original sign-in's ``acr``/``amr``/``auth_time``."""


_LAST_USED_GRANULARITY = timedelta(minutes=1)
# Built once, like the other reads of every sign-in.
# On the table, not the entity: the ORM's load of the row and its unit-of-work flush of the change
# cost more than the statements themselves (the token request of every sign-in runs this).
_PS = PortalSignIn.__table__
_PORTAL_SIGN_IN = select(_PS.c.id, _PS.c.claims, _PS.c.last_used_at).where(
    _PS.c.sid == bindparam("sid"), _PS.c.client_id == bindparam("client_id"))
_NOTE_RELEASED = (update(_PS).where(_PS.c.id == bindparam("row_id"))
                  .values(claims=bindparam("claims", type_=_PS.c.claims.type),
                          last_used_at=bindparam("now", type_=_PS.c.last_used_at.type)))


def _remember_released(client, account, sid, scope, names) -> None:
    """Note on the portal sign-in which claims the portal received (shown on the account page).

    Userinfo and refresh call this on every request: write only what changed, and the "last
    used" time at most once a minute. When the row was found up to date, this process remembers
    so until that minute is over and skips even the SELECT (``idp.cache``).
    """
    if not sid:
        return
    names = frozenset(names) | frozenset(claims.scope_claim_names(scope))
    seen = cache("released_claims")
    if seen.peek((sid, client.client_id, names)):
        return
    row = db.session.execute(_PORTAL_SIGN_IN, {"sid": sid, "client_id": client.client_id}).first()
    if row is None:
        return
    released = sorted(set(row.claims or []) | names)
    now = utcnow()
    if released != sorted(row.claims or []) or row.last_used_at is None \
            or now - row.last_used_at > _LAST_USED_GRANULARITY:
        db.session.execute(_NOTE_RELEASED, {"row_id": row.id, "claims": released, "now": now})
    else:  # only a state read from the database is remembered, never one still to be committed
        remaining = (_LAST_USED_GRANULARITY - (now - row.last_used_at)).total_seconds()
        seen.put((sid, client.client_id, names), True, remaining)
