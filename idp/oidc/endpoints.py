"""Machine endpoints: discovery, JWKS, token, userinfo, revocation, introspection.

Each answers the protocol's JSON error for bad input. Parameters are checked
for repetition, length and placement before Authlib sees them: RFC 6749 §3.2
forbids repeated parameters, and credentials belong in the body, never in the
query string.
"""

import base64
import binascii

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from ..autocommit import autocommit
from ..cache import cache, forget
from ..extensions import csrf, db, session_in_transaction
from . import api_scopes, claims, keys
from .server import CLIENT_ASSERTION_ALGORITHMS, server

bp = Blueprint("oidc_endpoints", __name__)
MAX_PARAMETER = 4096


def _error(error: str, description: str, status: int = 400, headers=None) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _check_body() -> Response | None:
    """The shared checks of the endpoints clients authenticate to."""
    if request.method != "POST":
        return _error("invalid_request", "Use POST.", 405, {"Allow": "POST"})
    if request.args:
        return _error("invalid_request", "Parameters belong in the request body.")
    for name in request.form:
        values = request.form.getlist(name)
        if len(values) > 1:
            return _error("invalid_request", f"Multiple '{name[:40]}' in request.")
        if len(values[0]) > MAX_PARAMETER:
            return _error("invalid_request", f"'{name[:40]}' is too long.")
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    # Split as Authlib splits it (str.split: U+00A0 and U+0085 are blanks too, and gunicorn passes them).
    parts = header.split(None, 1)
    if len(parts) != 2:
        return _error("invalid_client", "Malformed Authorization header.", 401,
                      {"WWW-Authenticate": 'Basic realm="token"'})
    if parts[0].lower() == "basic":
        try:
            base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return _error("invalid_client", "Malformed Basic credentials.", 401,
                          {"WWW-Authenticate": 'Basic realm="token"'})
    return None


def _finish(respond) -> Response:
    """Run ``respond`` (an Authlib endpoint); commit what a successful call wrote, forget the rest."""
    try:
        try:
            response = respond()
        except OAuth2Error as error:
            # Raised before Authlib's own handling: building its request refuses an address it
            # cannot take for https (an odd Host header, a LAN address on plain http).
            db.session.rollback()
            return _error(error.error, error.get_error_description() or error.error, error.status_code or 400)
        if session_in_transaction():  # (not when the session went unused: a portal's own token)
            if response.status_code < 400:
                db.session.commit()
            else:
                db.session.rollback()
    except IntegrityError:  # at the commit, or at a statement run straight away (a token's INSERT)
        db.session.rollback()
        forget("clients")
        if _client_still_registered():
            raise
        # The portal was deleted by another process within the client cache's lifetime
        # (``idp.cache``): its rows can no longer be written, so it is no longer a client.
        return _error("invalid_client", "The client is not registered.", 401)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _client_still_registered() -> bool:
    from .models import Client

    client_id = request.form.get("client_id")
    if request.authorization is not None and request.authorization.type == "basic":
        client_id = request.authorization.username
    return bool(client_id) and Client.query.filter_by(client_id=client_id).first() is not None


@bp.route("/.well-known/openid-configuration")
def discovery():
    # Built once per CACHE_SECONDS: the parts' contributions may read settings from the database.
    response = jsonify(cache("discovery").get("metadata", _metadata))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _metadata() -> dict:
    issuer = current_app.config["ISSUER"]
    auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/oauth/token",
        "userinfo_endpoint": issuer + "/oauth/userinfo",
        "jwks_uri": issuer + "/oauth/jwks",
        "revocation_endpoint": issuer + "/oauth/revoke",
        "introspection_endpoint": issuer + "/oauth/introspect",
        "end_session_endpoint": issuer + "/end-session",
        "scopes_supported": list(claims.USER_SCOPES) + api_scopes.names(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods[:3],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims.CLAIMS_SUPPORTED,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "acr_values_supported": claims.ACR_VALUES_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": current_app.config["LANGUAGES"],
        "claims_locales_supported": current_app.config["LANGUAGES"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "verified_claims_supported": bool(current_app.extensions["buergerkonto.hooks"].verified_claims),
    }
    for contribute in current_app.extensions["buergerkonto.hooks"].discovery:
        for key, value in contribute().items():
            if isinstance(value, list):
                metadata[key] = sorted(set(metadata.get(key, [])) | set(value))
            else:
                metadata.setdefault(key, value)
    return metadata


@bp.route("/oauth/jwks")
def jwks():
    response = jsonify(keys.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/oauth/token", methods=["GET", "POST"])
@csrf.exempt
def token():
    problem = _check_body()
    if problem:
        return problem
    # (A portal's own token needs no session: its INSERT and a private_key_jwt's jti are direct
    # statements, each committed by itself, ``server.save_token``.)
    return _finish(server().create_token_response)


@bp.route("/oauth/revoke", methods=["GET", "POST"])
@csrf.exempt
def revoke():
    problem = _check_body()
    if problem:
        return problem
    return _finish(lambda: server().create_endpoint_response("revocation"))


@bp.route("/oauth/introspect", methods=["GET", "POST"])
@csrf.exempt
def introspect():
    problem = _check_body()
    if problem:
        return problem
    autocommit()  # reads a token (and a private_key_jwt's jti, one INSERT)
    return _finish(lambda: server().create_endpoint_response("introspection"))


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    if request.args.get("access_token") or (request.method == "POST" and request.form.get("access_token")):
        return _error("invalid_request", "Send the access token in the Authorization header.")
    # No autocommit() here: the token is read on the driver (``bearer.read``), and the session is
    # used only now and then (a consent for verified_claims, the portals used at most once a
    # minute), when a transaction around its few statements costs little.
    try:
        response = server().create_endpoint_response("userinfo")
    except OAuth2Error as error:  # pragma: no cover - Authlib turns these into responses
        return _error(error.error, error.get_error_description() or "", error.status_code)
    response.headers["Cache-Control"] = "no-store"
    return response
