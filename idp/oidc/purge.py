"""Removing the provider's rows that nothing needs any more (``buergerkonto purge``, run daily).

Each kind is kept exactly as long as it can still matter:

- authorization codes for a day: a code works for 60 s, but a replay of a used
  code revokes its grant, and the nonce check refuses a nonce seen before; a
  day is far longer than any ID token carrying that nonce lives;
- tokens until their access token has expired and, with a refresh token, until
  the grant's absolute refresh lifetime is over: a rotated refresh token stays
  until then so that its replay is still recognised (and revokes the grant);
- client-assertion ids (``private_key_jwt``) once the assertion has expired, as
  an expired assertion is refused anyway;
- revoked JWT access tokens once they have expired, as an expired one is refused
  anyway;
- back-channel logout deliveries 30 days after they were delivered or abandoned;
- browser sessions a day after they ended or expired when nobody signed in with
  them, else once the longer of 30 days and the refresh-token lifetime is over
  (refresh tokens name their sign-in's session);
- failed-attempt counters once they would start again from one and hold no lock;
- retired signing keys once no ID token they signed can matter as a hint (``keys.hint_window``);
- and what the parts register in ``Hooks.purgers`` (federation: upstream sessions
  whose browser session is over, and the ids of spent upstream logout tokens once
  their age refuses the token anyway).
"""

import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, delete, or_

from .. import sessions, throttle
from ..extensions import db
from ..hooks import hooks
from ..timeutil import utcnow
from . import keys
from .models import AuthorizationCode, ClientAssertionJti, LogoutDelivery, RevokedAccessToken, Token

CODE_KEPT_SECONDS = 24 * 3600
LOGOUT_KEPT = timedelta(days=30)
SESSION_KEPT = timedelta(days=30)


def purge() -> dict[str, int]:
    """Delete what is no longer needed; returns how many rows of each kind went (caller commits)."""
    now, moment = int(time.time()), utcnow()  # the integer columns count seconds; the datetime ones are UTC
    counts = {
        "codes": db.session.execute(
            delete(AuthorizationCode).where(AuthorizationCode.issued_at < now - CODE_KEPT_SECONDS)).rowcount,
        "tokens": db.session.execute(delete(Token).where(
            Token.issued_at + Token.expires_in < now,
            or_(Token.refresh_token.is_(None),
                and_(Token.refresh_expires_at.isnot(None), Token.refresh_expires_at < now)))).rowcount,
        "client_assertion_ids": db.session.execute(
            delete(ClientAssertionJti).where(ClientAssertionJti.expires_at < now)).rowcount,
        "revoked_access_tokens": db.session.execute(
            delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now)).rowcount,
        "logout_deliveries": db.session.execute(delete(LogoutDelivery).where(or_(
            LogoutDelivery.delivered_at < moment - LOGOUT_KEPT,
            LogoutDelivery.abandoned_at < moment - LOGOUT_KEPT))).rowcount,
        "web_sessions": sessions.purge_dead(max(SESSION_KEPT, timedelta(
            seconds=current_app.config["OIDC_REFRESH_TOKEN_LIFETIME"]))),
        "throttle_counters": throttle.purge_stale(),
        "retired_signing_keys": keys.purge_retired(),
    }
    for name, purger in hooks().purgers.items():
        counts[name] = purger()
    return counts
