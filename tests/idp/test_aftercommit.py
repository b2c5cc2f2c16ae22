"""Effects outside the database follow the outermost transaction: run on commit, or on anything else."""

import pytest
from sqlalchemy.exc import IntegrityError


@pytest.fixture
def ctx(app):
    from buergerkonto.idp.extensions import db

    with app.app_context():
        yield db
        db.session.remove()


def _record(db, tag="test:aftercommit"):
    from buergerkonto.idp import events

    events.record(tag, None)
    db.session.flush()


def test_commit_actions_run_after_the_commit_and_rollback_actions_never(ctx):
    from buergerkonto.idp import aftercommit

    seen = []
    _record(ctx)
    aftercommit.on_commit(lambda: seen.append("commit"))
    aftercommit.on_rollback(lambda: seen.append("rollback"))
    assert seen == []
    ctx.session.commit()
    assert seen == ["commit"]
    _record(ctx)
    ctx.session.commit()
    assert seen == ["commit"]  # ran once, not again with the next transaction


@pytest.mark.parametrize("ending", ["rollback", "close", "failed commit"])
def test_rollback_actions_run_when_the_transaction_ends_without_commit(ctx, ending):
    from buergerkonto.idp import aftercommit
    from buergerkonto.idp.models import Account

    seen = []
    _record(ctx)
    aftercommit.on_commit(lambda: seen.append("commit"))
    aftercommit.on_rollback(lambda: seen.append("rollback"))
    if ending == "rollback":
        ctx.session.rollback()
    elif ending == "close":
        ctx.session.remove()
    else:
        ctx.session.add(Account(uuid="same-uuid-twice", email="a@example.org"))
        ctx.session.add(Account(uuid="same-uuid-twice", email="b@example.org"))
        with pytest.raises(IntegrityError):
            ctx.session.commit()
        ctx.session.rollback()
    assert seen == ["rollback"]


def test_a_savepoint_does_not_decide(ctx):
    from buergerkonto.idp import aftercommit

    seen = []
    _record(ctx)
    with ctx.session.begin_nested():
        aftercommit.on_commit(lambda: seen.append("released"))
        _record(ctx)
    assert seen == []  # the savepoint is released, the transaction is not committed yet
    try:
        with ctx.session.begin_nested():
            aftercommit.on_rollback(lambda: seen.append("savepoint rolled back"))
            raise ValueError
    except ValueError:
        pass
    assert seen == []
    ctx.session.rollback()
    assert seen == ["savepoint rolled back"]


def test_a_failing_action_leaves_the_commit_and_the_other_actions_alone(ctx, database):
    from buergerkonto.idp import aftercommit

    seen = []
    _record(ctx, "test:aftercommit:kept")
    aftercommit.on_commit(lambda: 1 / 0)
    aftercommit.on_commit(lambda: seen.append("second"))
    ctx.session.commit()
    assert seen == ["second"]
    assert "test:aftercommit:kept" in database.tags()
