"""The level lapses with the document, citizens are told beforehand, office-admins can revoke."""

from datetime import date, timedelta

from trust_levels.helpers import FORM, confirm_check, request_check

from buergerkonto.idp.extensions import db
from buergerkonto.idp.hooks import hooks, proofing_level
from buergerkonto.idp.models import Account
from buergerkonto.trust_levels.models import AuditEntry, Verification
from support.browser import Browser


def _confirmed(app, citizen, office, make_staff, **document):
    code = request_check(citizen)
    staff = make_staff(office["id"])
    assert confirm_check(staff, code, **document).status_code == 200
    with app.app_context():
        return Verification.query.one().public_id


def _level(app, email):
    with app.app_context(), app.test_request_context():
        account = Account.query.filter_by(email=email).one()
        return proofing_level(account), hooks().verified_claims[0](account, None, None)


def test_level_lapses_when_document_expires(app, citizen, office, make_staff):
    _confirmed(app, citizen, office, make_staff)
    assert _level(app, citizen.account["email"])[0] == "substantial"
    with app.app_context():
        record = Verification.query.one()
        record.document_expires_on = date.today() - timedelta(days=1)
        db.session.commit()
    level, claims = _level(app, citizen.account["email"])
    assert level == "low" and claims == []
    assert "Bürgerbüro Leer" not in citizen.get("/account/identity").get_data(as_text=True)


def test_document_valid_through_its_expiry_day(app, citizen, office, make_staff):
    _confirmed(app, citizen, office, make_staff)
    with app.app_context():
        Verification.query.one().document_expires_on = date.today() + timedelta(days=1)
        db.session.commit()
    assert _level(app, citizen.account["email"])[0] == "substantial"


def test_citizens_are_told_before_expiry_once(app, runner, smtp, citizen, office, make_staff):
    _confirmed(app, citizen, office, make_staff, expires=date.today() + timedelta(days=20))
    smtp.clear()
    result = runner.invoke(args=["trust", "notify-expiring", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "1 notice(s) queued, 1 delivered" in result.output
    body = smtp.body(smtp.wait_for(citizen.account["email"]))
    assert len(smtp.to(citizen.account["email"])) == 1
    assert "/account/identity" in body
    # Only what the citizen needs: no names, no document data.
    for personal in ("Erika", "Mustermann", "L01X00T47", "Berlin"):
        assert personal not in body
    result = runner.invoke(args=["trust", "notify-expiring", "--days", "30"])
    assert "0 notice(s)" in result.output


def test_documents_far_from_expiry_get_no_notice(app, runner, smtp, citizen, office, make_staff):
    _confirmed(app, citizen, office, make_staff, expires=date.today() + timedelta(days=400))
    result = runner.invoke(args=["trust", "notify-expiring", "--days", "30"])
    assert "0 notice(s)" in result.output


def test_office_admin_revokes_with_reason(app, smtp, citizen, office, make_staff):
    public_id = _confirmed(app, citizen, office, make_staff)
    admin = make_staff(office["id"], role="office-admin")
    url = f"/staff/verifications/{public_id}"
    short = admin.submit(url, {"reason": "too short"}, selector="form[action$='/revoke']")
    assert short.status_code == 400
    assert Browser.soup(short).select_one("#reason-error") is not None
    response = admin.submit(url, {"reason": "Document reported stolen by the police."},
                            selector="form[action$='/revoke']")
    assert response.status_code == 302
    level, claims = _level(app, citizen.account["email"])
    assert level == "low" and claims == []
    with app.app_context():
        record = Verification.query.one()
        assert record.status == "revoked" and record.revoke_reason.startswith("Document reported")
        entry = AuditEntry.query.filter_by(action="revoke").one()
        assert entry.account_id == record.account_id and entry.details is None
    assert "Bürgerbüro" in smtp.body(smtp.wait_for(citizen.account["email"]))
    # A revoked verification cannot be revoked twice.
    page = admin.get(url)
    assert Browser.soup(page).select_one("form[action$='/revoke']") is None


def test_a_record_shown_again_with_form_errors_is_an_audited_view(app, citizen, office, make_staff):
    # The page of a refused revocation shows the record (name, birth date, document) like any view.
    public_id = _confirmed(app, citizen, office, make_staff)
    admin = make_staff(office["id"], role="office-admin")
    url = f"/staff/verifications/{public_id}"
    with app.app_context():
        views_before = AuditEntry.query.filter_by(action="view").count()
    for reason in ("", "too short"):
        page = admin.post(url + "/revoke", data={"reason": reason, "csrf_token": admin.csrf_token(url)})
        assert page.status_code == 400
    with app.app_context():
        # The GET behind each csrf_token() was a view; each refused form shows the record once more.
        assert AuditEntry.query.filter_by(action="view").count() == views_before + 4


def test_verifier_cannot_revoke(app, citizen, office, make_staff):
    public_id = _confirmed(app, citizen, office, make_staff)
    verifier = make_staff(office["id"])
    token = Browser.soup(verifier.get("/staff/home")).select_one(f"{FORM} input[name=csrf_token]")["value"]
    response = verifier.post(f"/staff/verifications/{public_id}/revoke",
                             data={"reason": "I would like to revoke this.", "csrf_token": token})
    assert response.status_code == 403
    assert _level(app, citizen.account["email"])[0] == "substantial"


def test_new_confirmation_supersedes_the_old_one(app, citizen, office, make_staff):
    _confirmed(app, citizen, office, make_staff)
    code = request_check(citizen)
    staff = make_staff(office["id"])
    assert confirm_check(staff, code, number="C4JX1234", doc_type="passport").status_code == 200
    with app.app_context():
        statuses = sorted(v.status for v in Verification.query.all())
        assert statuses == ["confirmed", "superseded"]
    assert _level(app, citizen.account["email"])[1][0]["verification"]["evidence"][0]["document_details"][
        "type"] == "passport"
