"""The OpenAPI 3.1 description of the postbox API, served at ``/api/postbox/v1/openapi.json``.

Kept by hand beside the views it describes; the Schemathesis test checks
the running API against it (no 500, no answer outside the document).
"""

from .validation import (DEFAULT_LANGUAGE, EXTENSIONS, KINDS, LANGUAGE_PATTERN, LEVELS, MAX_ATTACHMENTS,
                         MAX_FILENAME, MAX_LANGUAGE, MAX_RECIPIENT, MAX_REFERENCE, MAX_SUBJECT, STATES)


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _json(description: str, schema: str, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    if headers:
        response["headers"] = headers
    return response


ERRORS = {
    "400": _problem("The request is malformed; `errors` names the failing fields or parameters."),
    "401": _problem("No valid postbox token, or (reading) the sign-in's level is below the message's "
                    "`min_level` (RFC 9470 `insufficient_user_authentication`)."),
    "403": _problem("The token lacks the scope, or is of the wrong holder (citizen or portal)."),
    "404": _problem("No such message for this citizen (or sender)."),
}
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["detail"],
            "properties": {"pointer": {"type": "string", "description": "JSON pointer into the request body"},
                           "parameter": {"type": "string", "description": "query parameter or header"},
                           "detail": {"type": "string"}}}},
        "min_level": {"type": "string", "enum": list(LEVELS)},
        "acr_values": {"type": "string"},
        "message_id": {"type": "string"},
        "retry_after": {"type": "integer"},
    },
}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
SENDER = {"type": "object", "required": ["client_id", "name", "municipality"],
          "properties": {"client_id": {"type": "string"}, "name": {"type": "string"},
                         "municipality": {"type": ["string", "null"]}}}
SUMMARY_PROPERTIES = {
    "id": {"type": "string", "format": "uuid"},
    "sender": {"$ref": "#/components/schemas/Sender"},
    "created_at": {"type": "string", "format": "date-time"},
    "min_level": {"type": "string", "enum": list(LEVELS)},
    "read": {"type": "boolean"},
    "locked": {"type": "boolean", "description": "The sign-in's level is below `min_level`: only sender and "
                                                 "date are shown; step up to read."},
    "subject": {"type": "string"},
    "language": {"type": "string", "description": "BCP 47 tag of subject and body, as sent (default `de`)."},
    "kind": {"type": "string", "enum": list(KINDS)},
    "reference": {"type": ["string", "null"]},
    "status": {"type": ["string", "null"], "enum": list(STATES) + [None]},
    "attachment_count": {"type": "integer", "minimum": 0},
}
SUMMARY = {"type": "object", "required": ["id", "sender", "created_at", "min_level", "read", "locked"],
           "properties": SUMMARY_PROPERTIES, "additionalProperties": False}
MESSAGE = {
    "type": "object",
    "required": ["id", "sender", "created_at", "min_level", "read", "locked", "subject", "kind", "body",
                 "attachments", "read_at"],
    "properties": dict(SUMMARY_PROPERTIES, **{
        "body": {"type": "string"},
        "reply_to": {"type": ["string", "null"]},
        "read_at": NULLABLE_TIME,
        "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/AttachmentInfo"}},
    }),
    "additionalProperties": False,
}
ATTACHMENT_INFO = {"type": "object", "required": ["number", "filename", "content_type", "size"],
                   "properties": {"number": {"type": "integer", "minimum": 0}, "filename": {"type": "string"},
                                  "content_type": {"type": "string", "enum": ["application/pdf", "image/png",
                                                                             "image/jpeg"]},
                                  "size": {"type": "integer", "minimum": 1}},
                   "additionalProperties": False}
SEND = {
    "type": "object",
    "required": ["recipient", "subject"],
    "additionalProperties": False,
    "properties": {
        "recipient": {"type": "string", "minLength": 1, "maxLength": MAX_RECIPIENT,
                      "description": "The citizen's `sub` as the sending portal knows it (pairwise, or public "
                                     "for portals registered so). Only a citizen who signed in at this portal "
                                     "(pairwise: at a portal of its sector) can be addressed; else 400."},
        "subject": {"type": "string", "minLength": 1, "maxLength": MAX_SUBJECT,
                    "description": "One line: no control characters (C0, C1), line or paragraph separators, or "
                                   "format characters (Unicode category Cf: bidirectional embeddings, "
                                   "overrides, isolates and marks, which would reorder the sentences pages "
                                   "show it in; the zero-width joiners U+200C and U+200D excepted). The same "
                                   "holds for `reference`."},
        "body": {"type": "string", "description": "Plain text, at most 64 KiB (UTF-8)."},
        "kind": {"type": "string", "enum": list(KINDS), "default": "notice"},
        "reference": {"type": "string", "minLength": 1, "maxLength": MAX_REFERENCE,
                      "description": "File number or application id; status updates group by it."},
        "min_level": {"type": "string", "enum": list(LEVELS), "default": "low"},
        "language": {"type": "string", "pattern": LANGUAGE_PATTERN, "maxLength": MAX_LANGUAGE,
                     "default": DEFAULT_LANGUAGE,
                     "description": "The language of subject and body as a BCP 47 tag: language, optionally "
                                    "script and region (`de`, `en`, `de-DE`, `tr`, `sr-Latn-RS`, `es-419`; any "
                                    "case, stored as `de-DE`). Pages mark subject and body with it, so screen "
                                    "readers speak a German notice in German on an English page. Variants, "
                                    "extensions and private-use tags are refused (400)."},
        "reply_to": {"type": "string", "format": "email", "maxLength": 254},
        "status": {"type": "string", "enum": list(STATES),
                   "description": "Required for `kind: status` (which also needs a `reference`)."},
        "attachments": {"type": "array", "maxItems": MAX_ATTACHMENTS,
                        "items": {"$ref": "#/components/schemas/AttachmentIn"}},
    },
}
ATTACHMENT_IN = {
    "type": "object", "required": ["filename", "content_type", "content"], "additionalProperties": False,
    "properties": {
        "filename": {"type": "string", "minLength": 1, "maxLength": MAX_FILENAME, "description": (
            "The name the citizen saves the file under. It must end as the content's type does (any case): "
            + "; ".join(f"{t}: {' or '.join(e)}" for t, e in EXTENSIONS.items())
            + ". Another ending (`Bescheid.pdf.cmd`, or none) is refused with 415. Refused with 400: path "
            "separators (`/`, `\\`), `.` and `..`, control characters, Unicode format characters (category "
            "Cf: bidirectional marks, embeddings, overrides and isolates such as U+200E, U+200F, U+202A to "
            "U+202E, U+2066 to U+2069; zero-width characters) and the line and paragraph separators U+2028, "
            "U+2029.")},
        "content_type": {"type": "string", "enum": ["application/pdf", "image/png", "image/jpeg"],
                         "description": "Checked against the content's signature; the content decides."},
        "content": {"type": "string", "contentEncoding": "base64",
                    "description": "At most 10 MiB decoded; all attachments together at most 25 MiB."},
    },
}
LOCKED_NEVER_MATCH = ("Only messages the sign-in's level opens can match: a `locked` message withholds its "
                      "reference and kind, so it never matches this filter.")
MESSAGE_ID = {"name": "message_id", "in": "path", "required": True,
              "schema": {"type": "string", "format": "uuid"}}
CITIZEN_READ = [{"citizen": ["postbox.read"]}]


def document(server_url: str) -> dict:
    """The document, with the server's own URL."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bürgerkonto postbox",
            "version": "1.0.0",
            "description": (
                "One postbox per citizen, shared by all member portals. Portals send with their own "
                "client-credentials token (`postbox.send`); a citizen's portal reads with the citizen's "
                "token from the code flow (`postbox.read`, `postbox.manage` to delete). Tokens carrying "
                "postbox scopes are for this API only (their audience), and other tokens are refused here."),
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/messages": {
                "post": {
                    "operationId": "sendMessage",
                    "summary": "Send a notice or a status update to a citizen",
                    "security": [{"portal": ["postbox.send"]}],
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                               "pattern": "^[\\x21-\\x7e]+$"},
                                    "description": "A retry with the same key returns the first result and "
                                                   "stores nothing new; the same key with another body is 409."}],
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SendRequest"}}}},
                    "responses": dict(ERRORS, **{
                        "201": _json("Stored (or, for a retried key, stored before).", "SendResult",
                                     {"Location": {"schema": {"type": "string"}},
                                      "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}}),
                        "409": _problem("The Idempotency-Key was used with a different request."),
                        "413": _problem("An attachment is over 10 MiB, or all together over 25 MiB."),
                        "415": _problem("Not JSON, or an attachment that is not PDF, PNG or JPEG by its content, "
                                        "or whose `content_type` or file name ending does not fit its content."),
                        "429": _problem("Too many sends by this portal; see Retry-After."),
                    }),
                },
                "get": {
                    "operationId": "listMessages",
                    "summary": "The citizen's messages, newest first",
                    "security": CITIZEN_READ,
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                     "maximum": 100, "default": 20}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"},
                         "description": "`next_cursor` of the previous page."},
                        {"name": "unread", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "reference", "in": "query", "schema": {"type": "string", "minLength": 1,
                                                                         "maxLength": MAX_REFERENCE},
                         "description": LOCKED_NEVER_MATCH},
                        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(KINDS)},
                         "description": LOCKED_NEVER_MATCH},
                    ],
                    "responses": dict(ERRORS, **{"200": _json("A page of messages.", "MessageList")}),
                },
            },
            "/messages/{message_id}": {
                "parameters": [MESSAGE_ID],
                "get": {
                    "operationId": "readMessage",
                    "summary": "Read a message (marks it read)",
                    "security": CITIZEN_READ,
                    "responses": dict(ERRORS, **{"200": _json("The message.", "Message")}),
                },
                "delete": {
                    "operationId": "deleteMessage",
                    "summary": "Delete a message",
                    "security": [{"citizen": ["postbox.manage"]}],
                    "responses": dict(ERRORS, **{"204": {"description": "Deleted."}}),
                },
            },
            "/messages/{message_id}/attachments/{number}": {
                "parameters": [MESSAGE_ID, {"name": "number", "in": "path", "required": True,
                                            "schema": {"type": "integer", "minimum": 0}}],
                "get": {
                    "operationId": "downloadAttachment",
                    "summary": "Download an attachment (numbered from 0 in the order sent)",
                    "security": CITIZEN_READ,
                    "responses": dict(ERRORS, **{"200": {
                        "description": "The file.",
                        "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                    for t in ("application/pdf", "image/png", "image/jpeg")}}}),
                },
            },
            "/messages/{message_id}/status": {
                "parameters": [MESSAGE_ID],
                "get": {
                    "operationId": "messageStatus",
                    "summary": "For the sender: delivered, read or deleted",
                    "security": [{"portal": ["postbox.send"]}],
                    "responses": dict(ERRORS, **{"200": _json("The state of a message you sent.", "SenderStatus")}),
                },
            },
        },
        "components": {
            "securitySchemes": {
                "citizen": {"type": "http", "scheme": "bearer",
                            "description": "A citizen's access token from the authorization code flow with "
                                           "`postbox.read` (and `postbox.manage`)."},
                "portal": {"type": "http", "scheme": "bearer",
                           "description": "The portal's access token from the client-credentials grant with "
                                          "`postbox.send`."},
            },
            "schemas": {
                "Problem": PROBLEM,
                "Sender": SENDER,
                "MessageSummary": SUMMARY,
                "Message": MESSAGE,
                "AttachmentInfo": ATTACHMENT_INFO,
                "AttachmentIn": ATTACHMENT_IN,
                "SendRequest": SEND,
                "SendResult": {"type": "object", "required": ["id", "created_at"], "additionalProperties": False,
                               "properties": {"id": {"type": "string", "format": "uuid"},
                                              "created_at": {"type": "string", "format": "date-time"}}},
                "MessageList": {"type": "object", "required": ["items", "next_cursor"], "additionalProperties": False,
                                "properties": {"items": {"type": "array",
                                                         "items": {"$ref": "#/components/schemas/MessageSummary"}},
                                               "next_cursor": {"type": ["string", "null"]}}},
                "SenderStatus": {"type": "object", "additionalProperties": False,
                                 "required": ["id", "state", "delivered_at", "read_at", "deleted_at"],
                                 "properties": {"id": {"type": "string", "format": "uuid"},
                                                "state": {"type": "string", "enum": ["delivered", "read", "deleted"]},
                                                "delivered_at": {"type": "string", "format": "date-time"},
                                                "read_at": NULLABLE_TIME, "deleted_at": NULLABLE_TIME}},
            },
        },
    }
