"""Where the parts plug into the core without import cycles.

The app factory creates one ``Hooks`` per app; each part registers its
functions at app creation (its export of a citizen's data, what to delete
with an account, what happens when a session ends, claims for tokens).
"""

from dataclasses import dataclass, field
from typing import Callable

from flask import current_app


@dataclass
class Hooks:
    # name -> fn(account) -> JSON-able data for "download all my data"
    exporters: dict[str, Callable] = field(default_factory=dict)
    # fn(account) called inside the deletion transaction, before the account row goes
    deleters: list[Callable] = field(default_factory=list)
    # fn(web_session, reason) called when a signed-in session ends (logout, expiry, deletion)
    session_ended: list[Callable] = field(default_factory=list)
    # fn(web_session) called after the transaction that ended sessions committed
    after_sessions_ended: list[Callable] = field(default_factory=list)


def hooks() -> Hooks:
    return current_app.extensions["buergerkonto.hooks"]
