"""``buergerkonto purge``: rows go once nothing needs them, and not a moment before."""

import json
import time
import uuid
from datetime import timedelta

DAY = 24 * 3600


def _code(client_id, account_id, age, nonce="n"):
    from buergerkonto.idp.oidc.models import AuthorizationCode

    return AuthorizationCode(code=uuid.uuid4().hex * 2, client_id=client_id, account_id=account_id,
                             issued_at=int(time.time()) - age, auth_time=int(time.time()) - age,
                             redirect_uri="http://127.0.0.1/cb", scope="openid", nonce=nonce,
                             grant_id=str(uuid.uuid4()))


def _token(client_id, account_id, age, refresh_left=None, rotated=False):
    from buergerkonto.idp.oidc.models import Token

    now = int(time.time())
    return Token(client_id=client_id, account_id=account_id, token_type="Bearer", scope="openid",
                 access_token=uuid.uuid4().hex * 2, issued_at=now - age, expires_in=300, grant_id=str(uuid.uuid4()),
                 refresh_token=uuid.uuid4().hex * 2 if refresh_left is not None else None,
                 refresh_expires_at=now + refresh_left if refresh_left is not None else None,
                 refresh_rotated_at=now - 10 if rotated else None)


def test_purge_removes_only_what_nothing_needs(app, runner, make_account, make_client):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import ClientAssertionJti, LogoutDelivery, RevokedAccessToken
    from buergerkonto.idp.timeutil import utcnow

    account = make_account()
    client_id = make_client()["client_id"]
    with app.app_context():
        rows = {
            "old code": _code(client_id, account["id"], 2 * DAY),
            "recent used code": _code(client_id, account["id"], 3600, nonce="still-checked"),
            "expired access token": _token(client_id, None, 2 * 3600),
            "live access token": _token(client_id, account["id"], 60),
            "rotated refresh, grant still alive": _token(client_id, account["id"], 2 * DAY, refresh_left=DAY,
                                                         rotated=True),
            "refresh past its lifetime": _token(client_id, account["id"], 40 * DAY, refresh_left=-60),
            "spent assertion id": ClientAssertionJti(client_id=client_id, jti="old", expires_at=int(time.time()) - 5),
            "live assertion id": ClientAssertionJti(client_id=client_id, jti="new", expires_at=int(time.time()) + 60),
            "revoked JWT, expired": RevokedAccessToken(client_id=client_id, jti="gone", expires_at=int(time.time()) - 5),
            "revoked JWT, still live": RevokedAccessToken(client_id=client_id, jti="live",
                                                          expires_at=int(time.time()) + 60),
            "old delivery": LogoutDelivery(client_id=client_id, subject="s", sid="a" * 43,
                                           delivered_at=utcnow() - timedelta(days=31)),
            "recent delivery": LogoutDelivery(client_id=client_id, subject="s", sid="b" * 43,
                                              delivered_at=utcnow() - timedelta(days=1)),
            "pending delivery": LogoutDelivery(client_id=client_id, subject="s", sid="c" * 43,
                                               created_at=utcnow() - timedelta(days=60)),
        }
        db.session.add_all(rows.values())
        db.session.commit()
        ids = {name: (type(row), row.id) for name, row in rows.items()}

    result = runner.invoke(args=["purge", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert {kind: counts[kind] for kind in ("codes", "tokens", "client_assertion_ids", "revoked_access_tokens",
                                            "logout_deliveries")} == {
        "codes": 1, "tokens": 2, "client_assertion_ids": 1, "revoked_access_tokens": 1, "logout_deliveries": 1}
    with app.app_context():
        left = {name for name, (model, row_id) in ids.items() if db.session.get(model, row_id) is not None}
    assert left == {"recent used code", "live access token", "rotated refresh, grant still alive",
                    "live assertion id", "revoked JWT, still live", "recent delivery", "pending delivery"}


def test_a_kept_rotated_refresh_token_still_revokes_its_grant_when_replayed(rp, citizen, runner, app):
    """The reuse detection survives a purge: rotated refresh tokens stay while their grant lives."""
    first = rp.tokens(scope="openid offline_access")
    assert "refresh_token" in first, first
    second = rp.refresh(first["refresh_token"]).get_json()
    assert runner.invoke(args=["purge"]).exit_code == 0
    assert rp.refresh(first["refresh_token"]).get_json()["error"] == "invalid_grant"  # replay
    assert rp.refresh(second["refresh_token"]).get_json()["error"] == "invalid_grant"  # grant revoked


def test_purge_removes_dead_sessions_and_stale_throttle_counters_only(app, runner, make_account):
    """Sessions go a day after they end when nobody signed in, else after the refresh-token lifetime;
    counters once they would restart from one and hold no lock."""
    import secrets

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import ThrottleCounter, WebSession
    from buergerkonto.idp.timeutil import utcnow

    account = make_account()
    now = utcnow()

    def session(account_id, ended_days=None, expires_days=1):
        return WebSession(token_hash=secrets.token_hex(32), sid=secrets.token_urlsafe(32), account_id=account_id,
                          expires_at=now + timedelta(days=expires_days),
                          ended_at=now - timedelta(days=ended_days) if ended_days is not None else None)

    with app.app_context():
        rows = {
            "anonymous, ended two days ago": session(None, ended_days=2),
            "anonymous, expired two days ago": session(None, expires_days=-2),
            "anonymous, ended an hour ago": session(None, ended_days=1 / 24),
            "anonymous, live": session(None),
            "signed in, ended 31 days ago": session(account["id"], ended_days=31),
            "signed in, expired 31 days ago": session(account["id"], expires_days=-31),
            "signed in, ended 20 days ago (its refresh tokens may live on)": session(account["id"], ended_days=20),
            "signed in, live": session(account["id"]),
            "counter, stale": ThrottleCounter(key="ip:stale", failures=3, last_failure_at=now - timedelta(days=1)),
            "counter, stale but still locked": ThrottleCounter(key="ip:locked", failures=9,
                                                               last_failure_at=now - timedelta(days=1),
                                                               locked_until=now + timedelta(hours=1)),
            "counter, recent": ThrottleCounter(key="ip:recent", failures=2, last_failure_at=now - timedelta(hours=1)),
        }
        db.session.add_all(rows.values())
        db.session.commit()
        ids = {name: (type(row), row.key if isinstance(row, ThrottleCounter) else row.id)
               for name, row in rows.items()}

    result = runner.invoke(args=["purge", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["web_sessions"] >= 4 and counts["throttle_counters"] >= 1
    with app.app_context():
        left = {name for name, (model, key) in ids.items() if db.session.get(model, key) is not None}
    assert left == {"anonymous, ended an hour ago", "anonymous, live",
                    "signed in, ended 20 days ago (its refresh tokens may live on)", "signed in, live",
                    "counter, stale but still locked", "counter, recent"}

