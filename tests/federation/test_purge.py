"""``buergerkonto purge`` removes upstream sessions and logout-token ids nothing reads any more, and only those."""

import json
import secrets
import time
from datetime import timedelta


def test_purge_removes_ended_and_orphaned_upstream_sessions_only(app, runner, make_account):
    from buergerkonto.federation.models import FederatedIdentity, FederatedSession
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession
    from buergerkonto.idp.timeutil import utcnow

    account = make_account()
    now = utcnow()
    with app.app_context():
        identity = FederatedIdentity(account_id=account["id"], issuer="https://land.example", subject="u-1")
        db.session.add(identity)
        db.session.flush()

        def upstream(web_session=True, ended=None, age=timedelta(days=2)):
            sid = secrets.token_urlsafe(32)
            if web_session:
                db.session.add(WebSession(token_hash=secrets.token_hex(32), sid=sid, account_id=account["id"],
                                          expires_at=now + timedelta(hours=1)))
            return FederatedSession(sid=sid, identity_id=identity.id, issuer="https://land.example",
                                    upstream_subject="u-1", created_at=now - age,
                                    ended_at=now - ended if ended is not None else None)

        rows = {
            "live": upstream(),
            "ended two days ago": upstream(ended=timedelta(days=2)),
            "ended an hour ago": upstream(ended=timedelta(hours=1)),
            "its browser session purged": upstream(web_session=False),
            "its browser session not committed yet": upstream(web_session=False, age=timedelta(minutes=1)),
        }
        db.session.add_all(rows.values())
        db.session.commit()
        ids = {name: row.id for name, row in rows.items()}

    result = runner.invoke(args=["purge", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["federation_sessions"] == 2
    with app.app_context():
        left = {name for name, row_id in ids.items() if db.session.get(FederatedSession, row_id) is not None}
    assert left == {"live", "ended an hour ago", "its browser session not committed yet"}


def test_purge_forgets_logout_token_ids_only_once_their_token_is_refused_for_its_age(app, runner):
    from buergerkonto.federation.models import UpstreamLogoutToken
    from buergerkonto.idp.extensions import db

    now = int(time.time())
    with app.app_context():
        db.session.add_all([UpstreamLogoutToken(issuer="https://land.example", jti=name, expires_at=expires_at)
                            for name, expires_at in (("too old", now - 1), ("still acceptable", now + 300))])
        db.session.commit()

    result = runner.invoke(args=["purge", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["federation_logout_tokens"] == 1
    with app.app_context():
        assert [row.jti for row in UpstreamLogoutToken.query] == ["still acceptable"]
