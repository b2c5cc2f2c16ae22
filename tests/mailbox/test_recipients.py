"""Whom a portal can address: only citizens who signed in there (pairwise: at a portal of its sector)."""

import pytest


@pytest.fixture
def public_portal(make_portal):
    return make_portal("Landesportal", "land.example", subject_type="public")


def _index_rows(app, account_id: int) -> int:
    from buergerkonto.mailbox.models import PortalSubject

    with app.app_context():
        return PortalSubject.query.filter_by(account_id=account_id).count()


def _forget_the_index(app) -> None:
    """The index as it was before public sign-ins were indexed: the sign-in recorded, no row."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.mailbox.models import PortalSubject

    with app.app_context():
        PortalSubject.query.delete()
        db.session.commit()
        db.session.remove()


def test_public_subject_portal_addresses_only_citizens_who_signed_in_there(public_portal, make_portal, citizen):
    elsewhere = make_portal("Anderes Landesportal", "anderes-land.example", subject_type="public")
    assert public_portal.sub() == citizen["uuid"]  # signed in here only; a public sub is the same everywhere
    refused = elsewhere.send(elsewhere.portal_token(), citizen["uuid"])
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
    assert [e["pointer"] for e in refused.get_json()["errors"]] == ["/recipient"]
    assert public_portal.send(public_portal.portal_token(), citizen["uuid"]).status_code == 201
    elsewhere.sub()
    assert elsewhere.send(elsewhere.portal_token(), citizen["uuid"]).status_code == 201


def test_citizen_who_signed_in_before_public_sign_ins_were_indexed_is_still_reached(public_portal, citizen, app):
    public_portal.sub()
    _forget_the_index(app)
    assert public_portal.send(public_portal.portal_token(), citizen["uuid"]).status_code == 201
    assert _index_rows(app, citizen["id"]) == 1  # indexed on the way: the next send is one lookup


def test_reindex_indexes_sign_ins_at_public_subject_portals(public_portal, citizen, app, runner):
    public_portal.sub()
    _forget_the_index(app)
    result = runner.invoke(args=["postbox", "reindex"])
    assert result.exit_code == 0, result.output
    assert _index_rows(app, citizen["id"]) == 1
