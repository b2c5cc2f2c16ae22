"""Looking into the Bürgerkonto's database from a test (inside an app context)."""

from buergerkonto.federation.models import FederatedIdentity, FederatedSession
from buergerkonto.idp.models import Account, Event, WebSession


def identities(app):
    with app.app_context():
        return [(i.issuer, i.subject, i.account_id, i.level) for i in FederatedIdentity.query.order_by(FederatedIdentity.id)]


def account_count(app) -> int:
    with app.app_context():
        return Account.query.count()


def events(app, prefix: str = "federation:"):
    with app.app_context():
        return [(e.tag, e.details) for e in Event.query.filter(Event.tag.startswith(prefix)).order_by(Event.id)]


def live_session(app, account_id: int):
    """The one live session of ``account_id`` (detached: sid, amr, account_id)."""
    with app.app_context():
        records = WebSession.query.filter_by(account_id=account_id, ended_at=None).all()
        assert len(records) == 1, records
        record = records[0]
        return {"sid": record.sid, "amr": record.amr, "account_id": record.account_id, "id": record.id}


def live_sessions(app, account_id: int) -> int:
    with app.app_context():
        return WebSession.query.filter_by(account_id=account_id, ended_at=None).count()


def federated_sessions(app):
    with app.app_context():
        return [(f.sid, f.level, f.upstream_sid, f.ended_at) for f in FederatedSession.query.order_by(FederatedSession.id)]


def hook(app, name: str, *args):
    """Call every federation function registered for hook ``name``, inside the app context.

    Other parts (trust levels) register for the same hooks; only federation's are asked.
    ``args`` may be callables, called inside the context (to load rows there).
    """
    from buergerkonto.idp.hooks import hooks

    with app.test_request_context():
        loaded = [arg() if callable(arg) else arg for arg in args]
        return [fn(*loaded) for fn in getattr(hooks(), name)
                if fn.__module__.startswith("buergerkonto.federation")]


def session_record(sid):
    return lambda: WebSession.query.filter_by(sid=sid).one()


def account_row(account_id):
    from buergerkonto.idp.extensions import db

    return lambda: db.session.get(Account, account_id)
