"""The Bürgerbüro seen by an attacker: conflicts of interest in held decisions, checks opened earlier.

Each test states the secure behaviour; each failed before its fix (a review found them).
"""

from trust_levels.helpers import confirm_one_document_for, look_up, request_check

from buergerkonto.idp.extensions import db
from buergerkonto.idp.models import Event
from buergerkonto.trust_levels.models import Verification


def test_an_admin_cannot_clear_a_hold_over_the_document_on_their_own_account(app, office, make_staff,
                                                                              make_account, new_browser):
    """The hold exists because the document is already on the admin's own (linked) account: letting that
    admin clear it gives one ID card two confirmed accounts with no second person looking."""
    own = make_account(email="privat@example.org")
    admin = make_staff(office["id"], role="office-admin", citizen_account=own["uuid"])
    colleague = make_staff(office["id"])
    second = make_account()
    confirm_one_document_for(colleague, new_browser, (own, second), "T22000129")
    with app.app_context():
        held = Verification.query.filter_by(status="held").one()
        public_id = held.public_id
    response = admin.submit(f"/staff/verifications/{public_id}", {"decision": "approve"},
                            selector="form[action$='/decide']")
    with app.app_context():
        status = Verification.query.filter_by(public_id=public_id).one().status
    assert status == "held", f"the admin whose own account holds the document decided: {response.status_code}, {status}"
    with app.app_context():
        [refused] = Event.query.filter_by(tag="trust:own_account_refused").all()
        assert refused.details == {"staff_id": admin.staff["id"], "office_id": office["id"],
                                   "verification": public_id, "step": "decide"}


def test_a_looked_up_code_of_an_expired_check_does_not_keep_showing_its_data(app, citizen, office, make_staff):
    """A code past its 30 days is refused at the look-up; a check page opened before must stop too."""
    from datetime import timedelta

    from buergerkonto.trust_levels.models import IdentityCheck

    code = request_check(citizen)
    staff = make_staff(office["id"])
    check_url = look_up(staff, code).headers["Location"]
    assert staff.get(check_url).status_code == 200
    with app.app_context():
        check = IdentityCheck.query.one()
        check.expires_at = check.created_at - timedelta(seconds=1)
        db.session.commit()
    page = staff.get(check_url)
    assert "Mustermann" not in page.get_data(as_text=True), page.status_code
