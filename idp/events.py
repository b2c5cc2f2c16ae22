"""Security events with structured tags, written in the caller's transaction."""

from flask import has_request_context, request

from .extensions import db
from .models import Event


def record(tag: str, account_id: int | None = None, **details) -> Event:
    """Add an event such as ``account:login:success``; committed with the change it describes.

    ``details`` must never carry secrets (passwords, codes, tokens).
    """
    event = Event(
        tag=tag,
        account_id=account_id,
        ip_address=request.remote_addr if has_request_context() else None,
        details=details or None,
    )
    db.session.add(event)
    return event
