"""Scopes of the service's own APIs, and the audience an access token is for.

Parts that offer an API (the postbox) register its scopes at app creation with
``register``; the provider consults the registry when it registers clients,
publishes discovery, issues tokens and answers userinfo. Nothing else in the
provider knows about any particular API.

Audience rule (documented for portal operators):
an access token is for exactly one audience, decided at issuance from the
scopes granted and fixed with them (the token's ``scope`` column never
changes). A token holding scopes of a registered API is for that API only:
the API accepts it and the userinfo endpoint refuses it. A token without API
scopes is for the provider itself (userinfo) and every API refuses it. A
portal may name the audience with the RFC 8707 ``resource`` parameter at the
token endpoint; a ``resource`` other than the audience that follows from the
granted scopes is refused with ``invalid_target``. A grant never mixes two
APIs (``invalid_scope``).

Each API scope says who may hold it: ``citizen`` scopes come from the code
flow (a citizen's token), ``client`` scopes from the client-credentials grant
(a portal acting for itself). A token never carries the other kind.
"""

from dataclasses import dataclass

from flask import current_app

REGISTRY_KEY = "buergerkonto.api_scopes"
HOLDERS = ("citizen", "client")


@dataclass(frozen=True)
class ApiScope:
    name: str
    audience: str
    holder: str
    description: object = ""


def init_registry(app) -> dict:
    return app.extensions.setdefault(REGISTRY_KEY, {})


def descriptions(scopes) -> list:
    """What granting these API scopes means, in the page's language (``descriptions.scope_texts``)."""
    known = registry()
    return [known[s].description for s in scopes if s in known and known[s].description]


def register(app, name: str, audience: str, holder: str, description="") -> None:
    """Declare an API scope (called from a part's ``init_app``); ``description`` may be a lazy text."""
    if holder not in HOLDERS:
        raise ValueError(f"holder must be one of {HOLDERS}")
    init_registry(app)[name] = ApiScope(name, audience, holder, description)


def registry() -> dict[str, ApiScope]:
    return current_app.extensions.get(REGISTRY_KEY, {})


def names() -> list[str]:
    return list(registry())


def for_grant(scopes: list[str], grant_type: str) -> list[str]:
    """Drop API scopes the grant may not carry (client scopes from citizens and vice versa)."""
    known = registry()
    holder = "client" if grant_type == "client_credentials" else "citizen"
    return [s for s in scopes if s not in known or known[s].holder == holder]


def audiences(scope: str | None) -> set[str]:
    known = registry()
    return {known[s].audience for s in (scope or "").split() if s in known}


def audience_of(scope: str | None) -> str | None:
    """The API a token with ``scope`` is for, or ``None`` for the provider itself."""
    found = audiences(scope)
    return next(iter(found)) if len(found) == 1 else None
