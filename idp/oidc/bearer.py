"""Stored tokens and codes read as plain values: userinfo, the postbox API and the grants.

Every bearer request reads its token and the citizen's account. Through the ORM
(``Token`` with the account joined) that read cost 0.60 ms CPU in-process; the
same row read as plain values through the session 0.42 ms, and on the driver
(``idp.direct_sql``) 0.10 ms. Nothing on the resource side changes either row,
so plain values do:

- ``StoredAccessToken`` has the token's columns and, like
  ``access_tokens.JwtAccessToken``, the methods Authlib's validator calls
  (``access_tokens.ReadToken``); its ``client`` is the portal from the client cache.
- ``AccountClaims`` is the account as claims see it (``claims.claim_values``,
  ``subject_for`` and the parts' ``verified_claims`` hooks, which query by
  ``id``). The password hash and the TOTP secret are not read at all.

The refresh grant reads its refresh token the same way (``StoredRefreshToken``),
and the code grant its code (``StoredAuthorizationCode``): each changes the row
only by a statement on the table (a rotation, a code's use, a replay's
revocation). Introspection and revocation keep using ``models.Token``.
"""

import time
from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import bindparam, select

from ..direct_sql import DirectStatement
from ..models import Account
from .access_tokens import ReadToken
from .models import CODE_LIFETIME, AuthorizationCode, Client, Token


@dataclass(frozen=True, slots=True)
class AccountClaims:
    """The citizen behind a token, with what the claims are made of."""

    id: int
    uuid: str
    email: str | None
    email_verified_at: datetime | None
    name: str | None
    given_name: str | None
    family_name: str | None
    phone_number: str | None
    address: dict | None
    locale: str | None
    updated_at: datetime | None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


@dataclass(slots=True)
class _StoredToken(ReadToken):
    """What every read of a stored token takes from its row: whose it is, what it allows, and the
    sign-in it carries on. ``client`` and ``account`` are set after the read (keyword-only, so the
    row's columns fill the rest in order)."""

    id: int
    client_id: str
    account_id: int | None
    scope: str
    issued_at: int
    expires_in: int
    refresh_token_revoked_at: int | None
    grant_id: str
    auth_time: int | None
    acr: str | None
    amr: list | None
    sid: str | None
    claims_request: dict | None
    client: Client | None = field(default=None, kw_only=True)
    account: AccountClaims | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class StoredAccessToken(_StoredToken):
    """An opaque access token found by its hash; ``account`` is None for a portal's own token."""

    token_type: str
    access_token_revoked_at: int | None

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.expires_in

    def is_expired(self) -> bool:  # as Authlib's OAuth2TokenMixin, which ``Token`` uses
        return bool(self.expires_in) and self.expires_at < time.time()

    def is_revoked(self) -> bool:
        return bool(self.access_token_revoked_at or self.refresh_token_revoked_at)


@dataclass(slots=True)
class StoredRefreshToken(_StoredToken):
    """A refresh token found by its hash, with what the grant carries on to the new tokens."""

    refresh_expires_at: int | None
    refresh_rotated_at: int | None

    def refresh_usable(self, now: int | None = None) -> bool:  # as ``Token.refresh_usable``
        now = now or int(time.time())
        return (not self.refresh_token_revoked_at and self.refresh_rotated_at is None
                and (self.refresh_expires_at is None or self.refresh_expires_at > now))


@dataclass(slots=True)
class StoredAuthorizationCode:
    """An authorization code found by its hash, with what Authlib's code grant and PKCE ask of it
    (the methods of its ``OAuth2AuthorizationCodeMixin``)."""

    id: int
    client_id: str
    account_id: int
    redirect_uri: str
    response_type: str
    scope: str
    nonce: str | None
    auth_time: int
    acr: str | None
    amr: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: int
    used_at: datetime | None
    sid: str | None
    grant_id: str
    claims_request: dict | None
    account: AccountClaims | None = None

    def is_expired(self) -> bool:
        return self.issued_at + CODE_LIFETIME < time.time()  # as ``models.AuthorizationCode``

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr.split() if self.amr else []

    def get_nonce(self) -> str | None:
        return self.nonce


_A = Account.__table__
_ACCOUNT_COLUMNS = [f.name for f in fields(AccountClaims)]


def _read_with_account(row_class, table, *conditions):
    """A reader of one ``row_class`` from ``table`` where ``conditions`` hold (their bindparams are
    the reader's keyword arguments), with its account's claims joined."""
    names = [f.name for f in fields(row_class) if f.name not in ("client", "account")]
    statement = DirectStatement(select(*[table.c[name] for name in names], *[_A.c[name] for name in _ACCOUNT_COLUMNS])
                                .outerjoin(_A, _A.c.id == table.c.account_id).where(*conditions))
    split = len(names)

    def read(**values):
        row = statement.first(**values)
        if row is None:
            return None
        item = row_class(*row[:split])
        if item.account_id is not None:
            item.account = AccountClaims(*row[split:])
        return item

    read.statement = statement.statement
    return read


_T, _C = Token.__table__, AuthorizationCode.__table__
_read_access = _read_with_account(StoredAccessToken, _T, _T.c.access_token == bindparam("digest"))
_read_refresh = _read_with_account(StoredRefreshToken, _T, _T.c.refresh_token == bindparam("digest"))
_read_code = _read_with_account(StoredAuthorizationCode, _C, _C.c.code == bindparam("digest"),
                                _C.c.client_id == bindparam("client_id"))


def read(digest: str) -> StoredAccessToken | None:
    """The access token whose hash is ``digest``, with its account's claims; None if there is none."""
    return _read_access(digest=digest)


def read_refresh(digest: str) -> StoredRefreshToken | None:
    """The refresh token whose hash is ``digest``, with its account's claims; None if there is none."""
    return _read_refresh(digest=digest)


def read_code(digest: str, client_id: str) -> StoredAuthorizationCode | None:
    """The portal's authorization code whose hash is ``digest``, with its account's claims."""
    return _read_code(digest=digest, client_id=client_id)
