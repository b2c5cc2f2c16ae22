"""Security events with structured tags, written in the caller's transaction."""

from flask import has_request_context, request
from sqlalchemy import insert

from .extensions import db
from .models import Event

# One INSERT, now, in the caller's transaction (rolled back with it), built once. Nothing reads an
# event back in the request that records it, so an ORM object would only cost its flush: every
# sign-in records two. It goes through the transaction's connection, not ``Session.execute``, which
# would first flush the ORM's pending changes: a sign-in would write its rotated session record
# twice, once here and again with the session's data at the commit.
_INSERT = insert(Event.__table__)


def record(tag: str, account_id: int | None = None, **details) -> None:
    """Add an event such as ``account:login:success``; committed with the change it describes.

    ``details`` must never carry secrets (passwords, codes, tokens).
    """
    db.session.connection().execute(_INSERT, {
        "tag": tag,
        "account_id": account_id,
        "ip_address": request.remote_addr if has_request_context() else None,
        "details": details or None,
    })
