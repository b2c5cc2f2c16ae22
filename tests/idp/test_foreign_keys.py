"""Foreign keys hold on SQLite (the demo's database) as on PostgreSQL."""

import pytest
from sqlalchemy.exc import IntegrityError


def test_a_row_pointing_at_nothing_is_refused(app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import RecoveryCode

    with app.app_context():
        db.session.add(RecoveryCode(account_id=987654321, code_hash="x"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_deleting_an_account_takes_its_dependent_rows_along(app, make_account):
    from sqlalchemy import func, select

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account, RecoveryCode

    account = make_account()
    with app.app_context():
        db.session.add(RecoveryCode(account_id=account["id"], code_hash="x"))
        db.session.commit()
        db.session.execute(Account.__table__.delete().where(Account.id == account["id"]))
        db.session.commit()
        left = db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.account_id == account["id"]))
    assert left == 0  # ON DELETE CASCADE, which SQLite ignored with its foreign keys off
