"""The postbox API (``/api/postbox/v1``): portals send, citizens' portals read.

Every answer is JSON; every refusal is ``application/problem+json`` (RFC 9457).
Who may do what is decided from the bearer token alone (``authenticate``):
its audience (the postbox scopes make a token a postbox token, see
``idp.oidc.api_scopes``), its scope, and whose it is (a citizen's token from
the code flow, or a portal's own from the client-credentials grant).
"""

import json
import re
from io import BytesIO

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from flask import Blueprint, current_app, g, jsonify, request, send_file

from ..idp.extensions import csrf, db, limiter
from ..idp.oidc import api_scopes, claims
from ..idp.oidc.access_tokens import JwtAccessToken
from ..idp.oidc.bearer import StoredAccessToken
from ..idp.oidc.server import resource_protector
from ..idp.web import problem
from . import openapi, service
from .validation import KINDS, MAX_REFERENCE, MAX_REQUEST_BYTES, SendInvalid, parse_send

Bearer = StoredAccessToken | JwtAccessToken  # a stored (opaque) token or an RFC 9068 JWT

PREFIX = "/api/postbox/v1"
bp = Blueprint("postbox_api", __name__, url_prefix=PREFIX)
csrf.exempt(bp)

SCOPE_READ, SCOPE_MANAGE, SCOPE_SEND = "postbox.read", "postbox.manage", "postbox.send"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def audience() -> str:
    return current_app.config["ISSUER"] + PREFIX


class ApiProblem(Exception):
    """A refusal, turned into problem details by the blueprint's error handler."""

    def __init__(self, status: int, title: str, detail: str | None = None, headers=None, **extra):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}
        self.extra = extra


@bp.errorhandler(ApiProblem)
def _problem(exc: ApiProblem):
    db.session.rollback()
    response = problem(exc.status, exc.title, exc.detail, **exc.extra)
    response.headers.update(exc.headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer_challenge(error: str | None = None, description: str | None = None, **params) -> dict:
    parts = ['Bearer realm="postbox"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    parts += [f'{k}="{v}"' for k, v in params.items()]
    return {"WWW-Authenticate": ", ".join(parts)}


def _bearer_token() -> Bearer | OAuth2Error:
    """The request's bearer token, or why there is none; looked up once per request, so the send
    rate limit (keyed by the token's portal) and ``authenticate`` share one query."""
    if "postbox_bearer" not in g:
        try:
            g.postbox_bearer = resource_protector().acquire_token()
        except OAuth2Error as exc:
            g.postbox_bearer = exc
    return g.postbox_bearer


def authenticate(scope: str, citizen: bool) -> Bearer:
    """The request's token, if it is a live postbox token with ``scope`` of the right holder."""
    token = _bearer_token()
    if isinstance(token, MissingAuthorizationError):
        raise ApiProblem(401, "Unauthorized", "A bearer token is required.", _bearer_challenge())
    if isinstance(token, OAuth2Error):
        raise ApiProblem(401, "Unauthorized", "The token is invalid, expired or revoked.",
                         _bearer_challenge("invalid_token"))
    if api_scopes.audience_of(token.scope) != audience():
        raise ApiProblem(401, "Unauthorized", "The token was not issued for the postbox API.",
                         _bearer_challenge("invalid_token", "wrong audience"))
    if scope not in (token.scope or "").split():
        raise ApiProblem(403, "Forbidden", f"The token lacks the scope '{scope}'.",
                         _bearer_challenge("insufficient_scope", scope=scope))
    if citizen and (token.account_id is None or token.account is None):
        raise ApiProblem(403, "Forbidden", "This operation needs a citizen's token.",
                         _bearer_challenge("insufficient_scope", scope=scope))
    if not citizen and token.account_id is not None:
        raise ApiProblem(403, "Forbidden", "Sending needs the portal's own (client credentials) token.",
                         _bearer_challenge("insufficient_scope", scope=scope))
    if scope == SCOPE_SEND and not token.client.member:
        # The postbox is the network's: a portal outside it (registered --external) could otherwise put
        # notices beside the municipalities' own, looking just like them, to any citizen who once
        # signed in there with 'openid' alone.
        raise ApiProblem(403, "Forbidden", "Only the network's member portals send to the postbox.",
                         _bearer_challenge("insufficient_scope", scope=scope))
    return token


def _without_sender() -> bool:
    """No live token, so no sender to count against: the view answers 401 instead."""
    return isinstance(_bearer_token(), OAuth2Error)


def _sender_key() -> str:
    """Rate-limit key of a send: the portal its (live) token belongs to."""
    return "postbox-send:" + _bearer_token().client_id


def _send_limit() -> str:
    return current_app.config["POSTBOX_SEND_RATE_LIMIT"]


# --- representations --------------------------------------------------------------------

def _time(value):
    return value.isoformat(timespec="microseconds") + "Z" if value else None


def _sender(message) -> dict:
    return {"client_id": message.sender_client_id, "name": message.sender_name,
            "municipality": message.sender_municipality}


def _summary(message, level: str) -> dict:
    item = {"id": message.public_id, "sender": _sender(message), "created_at": _time(message.created_at),
            "min_level": message.min_level, "read": message.read_at is not None,
            "locked": not service.level_allows(level, message)}
    if not item["locked"]:
        item.update({"subject": service.subject_of(message), "language": message.language, "kind": message.kind,
                     "reference": message.reference, "status": message.status,
                     "attachment_count": message.attachment_count})
    return item


def _level(token: Bearer) -> str:
    return claims.level_of(token.acr or "") or "low"


def _step_up(message, level: str) -> ApiProblem:
    acr = claims.EIDAS[message.min_level]
    return ApiProblem(401, "Insufficient user authentication",
                      f"This message needs a sign-in at level '{message.min_level}'; this one is '{level}'.",
                      _bearer_challenge("insufficient_user_authentication",
                                        "A higher authentication level is required", acr_values=acr),
                      type="urn:buergerkonto:problem:insufficient-level", message_id=message.public_id,
                      min_level=message.min_level, acr_values=acr)


def _readable(token: Bearer, public_id: str):
    message = service.find(token.account_id, public_id)
    if message is None:
        raise ApiProblem(404, "Not Found", "No such message.")
    level = _level(token)
    if not service.level_allows(level, message):
        raise _step_up(message, level)
    return message


def _json(data, status=200, headers=None):
    response = jsonify(data)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


# --- operations -------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi_document():
    response = jsonify(openapi.document(audience()))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.post("/messages")
@limiter.limit(_send_limit, key_func=_sender_key, exempt_when=_without_sender)
def send():
    token = authenticate(SCOPE_SEND, citizen=False)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise ApiProblem(400, "Bad Request", "The Idempotency-Key must be 1 to 255 visible ASCII characters.",
                         errors=[{"parameter": "Idempotency-Key", "detail": "1 to 255 visible ASCII characters."}])
    if request.mimetype != "application/json":
        raise ApiProblem(415, "Unsupported Media Type", "Send the message as application/json.")
    request.max_content_length = MAX_REQUEST_BYTES
    try:
        raw = json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):
        raise ApiProblem(400, "Bad Request", "The request body is not valid JSON.",
                         errors=[{"pointer": "", "detail": "Not valid JSON."}]) from None
    try:
        data = parse_send(raw)
    except SendInvalid as exc:
        titles = {400: "Bad Request", 413: "Content Too Large", 415: "Unsupported Media Type"}
        raise ApiProblem(exc.status, titles[exc.status], str(exc), errors=exc.errors) from None
    try:
        message, replayed = service.send(token.client, data, service.request_hash(raw), key)
    except service.IdempotencyConflict:
        raise ApiProblem(409, "Conflict", "This Idempotency-Key was used with a different request.") from None
    except service.RecipientUnknown:
        raise ApiProblem(400, "Bad Request", "No citizen with this subject has signed in at your portal.",
                         errors=[{"pointer": "/recipient", "detail": "Unknown recipient."}]) from None
    db.session.commit()
    body = {"id": message.public_id, "created_at": _time(message.created_at)}
    headers = {"Location": f"{PREFIX}/messages/{message.public_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(body, 201, headers)


@bp.get("/messages")
def list_messages():
    token = authenticate(SCOPE_READ, citizen=True)
    errors = []
    limit = request.args.get("limit", str(service.DEFAULT_PAGE))
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= service.MAX_PAGE):
        errors.append({"parameter": "limit", "detail": f"A whole number from 1 to {service.MAX_PAGE}."})
    unread = request.args.get("unread")
    if unread not in (None, "true", "false"):
        errors.append({"parameter": "unread", "detail": "'true' or 'false'."})
    kind = request.args.get("kind")
    if kind is not None and kind not in KINDS:
        errors.append({"parameter": "kind", "detail": "'notice' or 'status'."})
    reference = request.args.get("reference")
    if reference is not None and not 1 <= len(reference) <= MAX_REFERENCE:
        errors.append({"parameter": "reference", "detail": f"1 to {MAX_REFERENCE} characters."})
    if errors:
        raise ApiProblem(400, "Bad Request", errors[0]["detail"], errors=errors)
    level = _level(token)
    try:
        rows, cursor = service.page(token.account_id, int(limit), request.args.get("cursor") or None,
                                    None if unread is None else unread == "true", reference, kind, level=level)
    except service.CursorInvalid:
        raise ApiProblem(400, "Bad Request", "The cursor is not valid.",
                         errors=[{"parameter": "cursor", "detail": "Not a cursor of this API."}]) from None
    return _json({"items": [_summary(m, level) for m in rows], "next_cursor": cursor})


@bp.get("/messages/<message_id>")
def read_message(message_id):
    token = authenticate(SCOPE_READ, citizen=True)
    message = _readable(token, message_id)
    opened = service.open_message(message)
    service.mark_read(message, token.account_id, via=token.client_id)
    db.session.commit()
    item = _summary(message, _level(token))
    item.update({"body": opened.body, "reply_to": message.reply_to, "read_at": _time(message.read_at),
                 "attachments": opened.attachments})
    return _json(item)


@bp.get("/messages/<message_id>/attachments/<int:number>")
def attachment(message_id, number):
    token = authenticate(SCOPE_READ, citizen=True)
    message = _readable(token, message_id)
    found = service.attachment_content(message, number)
    if found is None:
        raise ApiProblem(404, "Not Found", "No such attachment.")
    filename, content_type, content = found
    response = send_file(BytesIO(content), mimetype=content_type, as_attachment=True, download_name=filename,
                         max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/messages/<message_id>")
def delete_message(message_id):
    token = authenticate(SCOPE_MANAGE, citizen=True)
    message = _readable(token, message_id)
    service.delete(message, token.account_id, via=token.client_id)
    db.session.commit()
    response = current_app.response_class(status=204)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/messages/<message_id>/status")
def message_status(message_id):
    token = authenticate(SCOPE_SEND, citizen=False)
    status = service.sender_status(token.client_id, message_id)
    if status is None:
        raise ApiProblem(404, "Not Found", "No message of yours has this id.")
    return _json({k: _time(v) if k.endswith("_at") else v for k, v in status.items()})
