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
    # fn(account) -> "low" | "substantial" | "high": how well the identity is proven.
    # Registered by trust_levels (and federation); without one every account is "low".
    proofing_level: list[Callable] = field(default_factory=list)
    # fn(account, web_session, requested: dict | None) -> list of OIDC4IDA verified_claims
    # objects (may be empty); the OIDC provider merges them into ID token and userinfo.
    verified_claims: list[Callable] = field(default_factory=list)
    # fn() -> dict of discovery metadata a part adds (lists are merged), e.g. the
    # OIDC4IDA trust frameworks and evidence it can assert.
    discovery: list[Callable] = field(default_factory=list)
    # fn(web_session) -> "low" | "substantial" | "high" | None: how strong this session's
    # authentication was when a part (federation: the upstream eID sign-in) knows better than amr.
    session_level: list[Callable] = field(default_factory=list)
    # fn(web_session, next_path) -> {name: {"label", "description", "url", optional "code",
    # "qr_svg", "status"}}: the ways to raise the level that the step-up page offers; ``next_path``
    # resumes the portal's pending request afterwards.
    step_up_options: list[Callable] = field(default_factory=list)
    # fn(account, client) called in the transaction that issues a portal an authorization code
    # (the postbox indexes the portal's subject, pairwise or public, to address the citizen by it)
    portal_sign_in: list[Callable] = field(default_factory=list)
    # name -> fn() -> rows deleted: a part's rows nothing needs any more, removed by
    # ``buergerkonto purge`` after the core's (browser sessions first); the caller commits
    purgers: dict[str, Callable] = field(default_factory=dict)
    # endpoint -> fn(http_request, target, **view_args) -> response: a page a finished sign-in may answer in
    # its own response instead of redirecting the browser there (``web.continue_to``; the OIDC
    # provider's authorization request: the portal gets its code one round trip sooner)
    continuations: dict[str, Callable] = field(default_factory=dict)


def hooks() -> Hooks:
    return current_app.extensions["buergerkonto.hooks"]


LEVELS = ("low", "substantial", "high")


def proofing_level(account) -> str:
    """The highest identity-proofing level any part vouches for (``low`` when none does)."""
    best = "low"
    for provider in hooks().proofing_level:
        level = provider(account) or "low"
        if LEVELS.index(level) > LEVELS.index(best):
            best = level
    return best
