"""The Authlib authorization server of one app, its endpoints and its resource protector.

All Authlib subclasses that are not grants live here. One server per app, kept
in ``app.extensions`` (STYLE.md trap 10).
"""

import secrets
import time
import uuid

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import list_to_scope, scope_to_list
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.integrations.flask_oauth2.signals import token_authenticated
from flask import current_app, g, has_request_context, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import insert
from sqlalchemy.orm.attributes import set_committed_value

from .. import events
from ..cache import cache, detached_copy, forget_on_change
from ..direct_sql import DirectStatement, column_parameters
from ..extensions import db, session_in_transaction
from ..upsert import insert_unless_present_now
from . import access_tokens, api_scopes, bearer, claims, client_keys, consents, keys
from .grants import (AuthorizationCodeGrant, ClientCredentialsGrant, OpenIDCode, OpenIDRefresh,
                     RefreshTokenGrant, S256CodeChallenge, _remember_released, revoke_tokens)
from .models import ClientAssertionJti, Client, Token, hash_token, token_by_hash

SERVER_KEY = "buergerkonto.oidc.server"
PROTECTOR_KEY = "buergerkonto.oidc.resource_protector"
ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
# What ``private_key_jwt`` assertions may be signed with: advertised in discovery and the only ones
# accepted (never ``none`` or HS256, which a public key set cannot check anyway).
CLIENT_ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256"]


def server():
    return current_app.extensions[SERVER_KEY]


def resource_protector() -> ResourceProtector:
    return current_app.extensions[PROTECTOR_KEY]


_INSERT_TOKEN = insert(Token.__table__)
# A portal's own opaque token (client credentials) is the only thing its request writes: one
# INSERT on the driver, committed by itself (``idp.direct_sql``), with every column it sets.
_PORTAL_TOKEN_COLUMNS = ("client_id", "token_type", "access_token", "scope", "issued_at", "expires_in",
                         "grant_id", "access_token_revoked_at", "refresh_token_revoked_at")
_INSERT_PORTAL_TOKEN = DirectStatement(insert(Token.__table__).values(
    column_parameters(Token.__table__, _PORTAL_TOKEN_COLUMNS)))


class AuthorizationServer(_FlaskAuthorizationServer):
    def create_oauth2_request(self, given):
        """Flask's request, or the one given: an authorization request a sign-in answers in place
        (``authorize.authorize_in_place``). Authlib's Flask server always takes Flask's."""
        return FlaskOAuth2Request(given if given is not None else request)

    def query_client(self, client_id):
        """The portal, from the process's client cache (``idp.cache``): read, never changed or added
        to a session (see ``cached_client``)."""
        return cached_client(client_id)

    def save_token(self, token, request):
        """Store hashes of the tokens, with the grant and sign-in they belong to.

        A Core INSERT, not an ORM instance: nothing reads the row back in this request, and the
        unit of work's flush cost 0.17 ms CPU more per token (0.48 against 0.31 ms with the commit).
        A portal's own token is a direct statement (``_INSERT_PORTAL_TOKEN``); a citizen's joins the
        transaction that also uses the code or rotates the refresh token.
        """
        now = int(time.time())
        refresh = token.get("refresh_token")
        row = dict(
            client_id=request.client.client_id,
            token_type=token["token_type"],
            access_token=hash_token(token["access_token"]),
            refresh_token=hash_token(refresh) if refresh else None,
            scope=token.get("scope", ""),
            issued_at=now,
            expires_in=token["expires_in"],
            account_id=request.user.id if request.user is not None else None,
        )
        code, old = request.authorization_code, request.refresh_token
        if code is not None:
            row.update(grant_id=code.grant_id, auth_time=code.auth_time, acr=code.acr, amr=code.get_amr(),
                       sid=code.sid, claims_request=code.claims_request)
            if refresh:
                row["refresh_expires_at"] = now + current_app.config["OIDC_REFRESH_TOKEN_LIFETIME"]
        elif old is not None:
            row.update(grant_id=old.grant_id, auth_time=old.auth_time, acr=old.acr, amr=old.amr,
                       sid=old.sid, claims_request=old.claims_request,
                       # The absolute lifetime counts from the first refresh token of the grant.
                       refresh_expires_at=old.refresh_expires_at if refresh else None)
        else:
            # A portal's own token (client credentials): a grant of its own, nothing else written.
            _INSERT_PORTAL_TOKEN.run(client_id=row["client_id"], token_type=row["token_type"],
                                     access_token=row["access_token"], scope=row["scope"], issued_at=now,
                                     expires_in=row["expires_in"], grant_id=str(uuid.uuid4()),
                                     access_token_revoked_at=0, refresh_token_revoked_at=0)
            return
        rows = [row]
        if old is not None and refresh and set(row["scope"].split()) != set((old.scope or "").split()):
            rows = _narrowed_refresh_rows(row, old.scope)
        # On the session's connection: ``Session.execute`` would first flush pending ORM changes (a
        # code grant's used code, a refresh's old token), which the commit sends just as well.
        connection = db.session.connection()
        for values in rows:
            # Unset values are left out, so they are SQL NULL (a JSON column given None would store 'null').
            connection.execute(_INSERT_TOKEN, {name: value for name, value in values.items() if value is not None})


def _narrowed_refresh_rows(row: dict, granted_scope: str) -> list[dict]:
    """A refresh that asked for less: the access token has the narrower scope, the new refresh
    token keeps the grant's (RFC 6749 §6), so that a later refresh can ask for all of it again.

    A row has one scope, so the refresh token gets a row of its own. Its access token column
    cannot be empty: it holds the hash of a value nobody was given, revoked from the start.
    """
    access_row = dict(row, refresh_token=None, refresh_expires_at=None)
    refresh_row = dict(row, scope=granted_scope, access_token=hash_token(secrets.token_urlsafe(32)),
                       access_token_revoked_at=row["issued_at"])
    return [access_row, refresh_row]


def cached_client(client_id) -> Client | None:
    """The portal as the process's client cache holds it: detached, shared by the process's threads,
    so only to be read. Requests only read their portal (its settings, its secret's hash), and rows
    refer to it by ``client_id``; a copy merged into each request's session cost 7 % of userinfo
    and of a client-credentials grant. (``Client`` has no relationships to load, and ``Token.client``
    is view-only: nothing cascades it into a session.)"""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 48:
        return None
    return cache("clients").get(client_id, lambda: _load_client(client_id), keep=lambda c: c is not None)


def _load_client(client_id: str) -> Client | None:
    """A detached copy of the client row, for the cache: the cached object never joins a session."""
    row = Client.query.filter_by(client_id=client_id).first()
    return None if row is None else detached_copy(row)


forget_on_change(Client, "clients", "client_jwks")


def token_generator(config):
    """Bearer tokens with short access lifetimes; refresh tokens only with ``offline_access``,
    and on every refresh (rotation), also when it asked for a narrower scope without it.

    Opaque tokens (stored hashed by ``save_token``), or for a portal registered with
    ``access_token_format = jwt`` its client-credentials tokens as RFC 9068 JWTs
    (``access_tokens``; not stored). Both live ``OIDC_ACCESS_TOKEN_LIFETIME``.
    """
    lifetime = int(config["OIDC_ACCESS_TOKEN_LIFETIME"])
    # secrets.token_urlsafe: 256/288 random bits, ~25x faster than Authlib's per-character generate_token.
    bearer = BearerTokenGenerator(lambda **_: secrets.token_urlsafe(32), lambda **_: secrets.token_urlsafe(36),
                                  lambda client, grant_type: lifetime)
    signed = access_tokens.AccessTokenGenerator(config["ISSUER"], lifetime)

    def generate(grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):
        scopes = scope_to_list(client.get_allowed_scope(scope) or "") or []
        if grant_type == "client_credentials":
            scopes = [s for s in scopes if s not in claims.USER_SCOPES]
        scopes = api_scopes.for_grant(scopes, grant_type)
        check_audience(list_to_scope(scopes))
        # A refresh token exists only where offline access was granted, so a refresh always gets
        # its successor: ``scope`` there may narrow the access token, never the grant (RFC 6749 §6).
        include_refresh_token = (include_refresh_token and client.check_grant_type("refresh_token")
                                 and ("offline_access" in scopes or grant_type == "refresh_token"))
        generator = signed if access_tokens.issues_jwt(grant_type, client) else bearer
        return generator(grant_type, client, user, list_to_scope(scopes), expires_in, include_refresh_token)

    return generate


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the ``resource`` is not the audience the granted scopes give the token."""

    error = "invalid_target"


def check_audience(scope: str) -> None:
    """One audience per token (``api_scopes``); an RFC 8707 ``resource`` must name it."""
    if len(api_scopes.audiences(scope)) > 1:
        raise InvalidScopeError("A token is for one API only: request the scopes of one API.")
    resources = request.form.getlist("resource") if has_request_context() else []
    if resources:
        audience = api_scopes.audience_of(scope) or current_app.config["ISSUER"]
        if len(resources) > 1 or resources[0] != audience:
            raise InvalidTargetError("The 'resource' does not match the scopes of this grant.")


class IssuerParameter(_IssuerParameter):
    """``iss`` in every authorization response (RFC 9207)."""

    def get_issuer(self):
        return current_app.config["ISSUER"]


class PrivateKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt`` client authentication against the portal's registered JWKS."""

    CLIENT_AUTH_METHOD = "private_key_jwt"
    # An assertion's jti is kept until it expires, so its lifetime is capped; at an hour, the
    # lifetime Authlib's client gives every assertion (it has no setting for it). RFC 7523 sets none.
    MAX_LIFETIME = 3600

    def __init__(self):
        super().__init__(validate_jti=True, leeway=30)

    def get_audiences(self):
        # RFC 10070 (updating RFC 7523): the issuer identifier is a client assertion's one audience.
        # RFC 7523 let it name the token endpoint's URL instead; a portal that also signs in at an
        # authorization server under an attacker's control, one that gives our endpoint's URL as its
        # own, then hands it an assertion that would be good here.
        return [current_app.config["ISSUER"]]

    def process_assertion_claims(self, assertion, resolve_key):
        """Authlib's, with the advertised algorithms named: without ``algorithms`` joserfc accepts
        only the ones it recommends (ES256, RS256, HS256) and refuses PS256."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=CLIENT_ASSERTION_ALGORITHMS)
        except JoseError as error:
            raise InvalidClientError(description=error.description) from error
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims):
        issuer = current_app.config["ISSUER"]
        if claims.get("aud") not in (issuer, [issuer]):  # (a list: only the issuer in it, RFC 10070)
            raise InvalidClientError(description="The assertion's audience must be this provider's issuer "
                                                 "identifier alone (RFC 10070), not the endpoint's URL.")
        super().verify_claims(claims)  # (then the jti is spent)
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp > time.time() + self.MAX_LIFETIME:
            raise InvalidClientError(description="The assertion lives too long.")

    def validate_jti(self, claims, jti):
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            return False
        # One statement, race included, committed at once: a jti once presented stays used, also
        # when the rest of the request fails.
        return insert_unless_present_now(ClientAssertionJti, client_id=claims["sub"], jti=jti,
                                         expires_at=int(claims["exp"]) + self.leeway)

    def resolve_client_public_key(self, client):
        data = client_keys.key_set_data(client)
        if not isinstance(data, dict) or not data.get("keys"):
            raise InvalidClientError(description="The client has no usable keys.")
        try:
            key_set = KeySet.import_key_set(data)
        except Exception:  # joserfc raises several types for malformed key sets
            raise InvalidClientError(description="The client's keys cannot be read.") from None
        if any(key.is_private for key in key_set.keys if key.key_type != "oct") or any(
                key.key_type == "oct" for key in key_set.keys):
            raise InvalidClientError(description="The client's key set must hold public keys only.")
        return key_set


def _lookup_token(column, digest):
    """The token with its account joined and its portal from the client cache (no third table)."""
    item = token_by_hash(column, digest)
    if item is not None:
        set_committed_value(item, "client", server().query_client(item.client_id))
    return item


class BearerValidator(BearerTokenValidator):
    """Opaque tokens by their hash; JWT access tokens (RFC 9068) by signature and claims."""

    def authenticate_token(self, token_string):
        if access_tokens.looks_like_jwt(token_string):
            return access_tokens.read(token_string)
        if not token_string or len(token_string) > 256:
            return None
        token = bearer.read(hash_token(token_string))
        if token is not None:
            token.client = cached_client(token.client_id)
        return token


class _ResourceProtector(ResourceProtector):
    def acquire_token(self, scopes=None, **kwargs):
        """As Authlib's, but on Flask's request itself: the validators read nothing but its headers,
        and the wrapper Authlib builds around it (``FlaskJsonRequest``, which works out the request's
        URL) cost 4 % of a userinfo request."""
        kwargs["scopes"] = scopes
        for name, value in kwargs.items():
            if isinstance(value, str):
                kwargs[name] = [value]
        token = self.validate_request(request=request, **kwargs)
        token_authenticated.send(self, token=token)
        g.authlib_server_oauth2_token = token
        return token


def find_token(token_string, hint):
    """Look a token up by either of its hashes (the hint decides the order only); a JWT by verifying it."""
    if access_tokens.looks_like_jwt(token_string):
        return access_tokens.read(token_string)
    if not isinstance(token_string, str) or not token_string or len(token_string) > 256:
        return None
    digest = hash_token(token_string)
    order = ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
    for column in order:
        item = _lookup_token(column, digest)
        if item is not None:
            return item
    return None


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009. Revoking a refresh token ends its whole grant; an access token just itself."""

    CLIENT_AUTH_METHODS = ENDPOINT_AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        if isinstance(token, access_tokens.JwtAccessToken):
            # Not stored, so remembered as revoked until it would have expired.
            if access_tokens.revoke(token):
                events.record("oidc:token:revoke", None, client_id=token.client_id, format="jwt")
            return
        if token.refresh_token and token.refresh_token == hash_token(request.form["token"]):
            revoke_tokens(Token.grant_id == token.grant_id)
        else:
            token.access_token_revoked_at = int(time.time())
        events.record("oidc:token:revoke", token.account_id, client_id=token.client_id)


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662 for a portal's own APIs: a portal may introspect the tokens issued to it."""

    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.client_id == client.client_id

    def create_introspection_payload(self, token):
        if token is not None and token.account_id is not None and token.account is None:
            return {"active": False}
        if token is not None and token.refresh_token == hash_token(request.form["token"]):
            if not token.refresh_usable():
                return {"active": False}
            return self._payload(token, token.refresh_expires_at, "refresh_token")
        return super().create_introspection_payload(token)

    def introspect_token(self, token):
        return self._payload(token, token.expires_at, "access_token")

    def _payload(self, token, expires_at, kind):
        payload = {"active": True, "scope": token.scope, "client_id": token.client_id,
                   "token_type": "Bearer" if kind == "access_token" else kind,
                   "iat": token.issued_at, "iss": current_app.config["ISSUER"]}
        if expires_at:
            payload["exp"] = expires_at
        if isinstance(token, access_tokens.JwtAccessToken):
            payload.update(sub=token.subject, aud=token.audience, jti=token.jti)
        if token.account is not None:
            payload["sub"] = claims.subject_for(token.client, token.account)
            payload["auth_time"] = token.auth_time
            if token.acr:
                payload["acr"] = token.acr
        return payload


class UserInfoEndpoint(_UserInfoEndpoint):
    """Claims of the granted scopes, plus those asked for by the ``claims`` parameter."""

    def create_endpoint_request(self, request):
        # Nothing to parse here: ``__call__`` reads the bearer token through the resource
        # protector, which wraps the request itself. (Authlib's OAuth2 request built here
        # went unused and cost 4 % of a userinfo request.)
        return request

    def __call__(self, request):
        token = self.resource_protector.acquire_token("openid")
        if token.account is None or api_scopes.audience_of(token.scope) is not None:
            raise InvalidTokenError()
        claims_request = consents.releasable_claims_request(token.client, token.account.id, token.claims_request)
        record = claims.session_for_verified_claims(token.sid, claims_request, "userinfo")
        info = {"sub": claims.subject_for(token.client, token.account)}
        info.update(claims.userinfo_claims(token.account, token.scope, claims_request, record))
        _remember_released(token.client, token.account, token.sid, token.scope, list(info))
        if session_in_transaction():  # (mostly nothing was read through the session at all)
            db.session.commit()
        return 200, info, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


class EndSessionEndpoint(_EndSessionEndpoint):
    """RP-Initiated Logout: ``id_token_hint`` must be one of ours; the view ends the session."""

    def get_server_jwks(self):
        # Also keys retired and no longer published: a portal's session may outlast the JWKS entry.
        return keys.hint_key_set()

    def get_algorithms(self):
        return ["ES256", "RS256"]

    def validate_request(self, request):
        for name in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint",
                     "ui_locales"):
            values = request.payload.datalist.get(name, [])
            if len(values) > 1:
                raise InvalidRequestError(f"Multiple '{name}' in request.")
            if values and len(values[0]) > 4096:
                raise InvalidRequestError(f"'{name}' is too long.")
        validated = super().validate_request(request)
        if validated.id_token_claims is not None:
            if validated.id_token_claims.get("iss") != current_app.config["ISSUER"]:
                raise InvalidRequestError("The 'id_token_hint' was not issued here.")
        return validated

    def end_session(self, end_session_request):
        """The view ends the browser's session itself (it needs the after-commit hooks)."""


def build(app) -> AuthorizationServer:
    """Create the app's authorization server and resource protector."""
    srv = AuthorizationServer()
    srv.init_app(app)
    srv.register_token_generator("default", token_generator(app.config))
    srv.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(require_nonce=False)])
    srv.register_grant(RefreshTokenGrant, [OpenIDRefresh()])
    srv.register_grant(ClientCredentialsGrant)
    srv.register_extension(IssuerParameter())
    srv.register_client_auth_method("private_key_jwt", PrivateKeyJWT())

    protector = _ResourceProtector()
    protector.register_token_validator(BearerValidator())
    srv.register_endpoint(RevocationEndpoint)
    srv.register_endpoint(IntrospectionEndpoint)
    srv.register_endpoint(UserInfoEndpoint(resource_protector=protector))
    srv.register_endpoint(EndSessionEndpoint)
    app.extensions[SERVER_KEY] = srv
    app.extensions[PROTECTOR_KEY] = protector
    return srv
