"""What the counter refuses: own account, wrong office, spent or expired codes, reused documents,
staff without TOTP, citizen sessions at the staff entry, staff sessions at portals."""

from datetime import date, timedelta

from flask_babel import force_locale
from trust_levels.helpers import (FORM, confirm_check, document, look_up,
                                  request_check, staff_password_set, staff_password_step)

from buergerkonto.idp import auth
from buergerkonto.idp.extensions import db
from buergerkonto.idp.hooks import proofing_level
from buergerkonto.idp.models import Account, Event, WebSession
from buergerkonto.trust_levels import service
from buergerkonto.trust_levels.models import AuditEntry, IdentityCheck, Verification
from support.browser import Browser
from support.plugin import sign_in


def _account(app, email):
    return Account.query.filter_by(email=email).one()


def test_staff_cannot_confirm_own_account_by_email(app, office, make_staff, make_account, new_browser):
    staff = make_staff(office["id"])
    own = make_account(email=staff.email)
    citizen = new_browser()
    sign_in(citizen, own["email"], own["password"])
    code = request_check(citizen)
    response = look_up(staff, code)
    check_url = response.headers["Location"]
    page = staff.get(check_url)
    assert page.status_code == 403
    assert "Mustermann" not in page.get_data(as_text=True)
    # Posting the confirmation directly is refused too.
    token = Browser.soup(staff.get("/staff/home")).select_one(f"{FORM} input[name=csrf_token]")["value"]
    response = staff.post(check_url, data={**document(), "csrf_token": token, "given_name": "Erika",
                                           "family_name": "M", "birthdate": "1964-08-12", "place_of_birth": "B",
                                           "street_address": "S 1", "postal_code": "26789", "locality": "Leer"})
    assert response.status_code == 403
    with app.app_context():
        assert Verification.query.count() == 0
        with app.test_request_context():
            assert proofing_level(_account(app, own["email"])) == "low"
        # Each refused attempt leaves a security event naming the clerk and the step.
        refused = Event.query.filter_by(tag="trust:own_account_refused").order_by(Event.id).all()
        assert [e.details["step"] for e in refused] == ["view", "confirm"]
        assert {e.account_id for e in refused} == {_account(app, own["email"]).id}
        assert {e.details["staff_id"] for e in refused} == {staff.staff["id"]}


def test_staff_cannot_confirm_linked_citizen_account(app, office, make_staff, make_account, new_browser):
    own = make_account(email="private-mail@example.org")
    staff = make_staff(office["id"], citizen_account=own["uuid"])
    citizen = new_browser()
    sign_in(citizen, own["email"], own["password"])
    code = request_check(citizen)
    response = look_up(staff, code)
    assert staff.get(response.headers["Location"]).status_code == 403


def test_deleting_the_linked_account_is_logged_and_a_new_one_can_be_linked(app, runner, office, make_staff,
                                                                           make_account, new_browser):
    """The binding ends with the account it names; the log says so, and ``staff link`` binds the new one."""
    old = make_account(email="privat-alt@example.org")
    staff = make_staff(office["id"], citizen_account=old["uuid"])
    citizen = new_browser()
    sign_in(citizen, old["email"], old["password"])
    assert citizen.submit("/account/delete", {"current_password": old["password"], "confirm": "y"}).status_code == 200
    with app.app_context():
        [ended] = Event.query.filter_by(tag="trust:staff:citizen_link_ended").all()
        assert ended.details["staff_id"] == staff.staff["id"] and ended.details["reason"] == "account-deleted"
    new = make_account(email="privat-neu@example.org")
    unknown = runner.invoke(args=["staff", "link", "--email", staff.email, "--citizen-account", "nobody@example.org"])
    assert unknown.exit_code != 0 and "no citizen account" in unknown.output
    linked = runner.invoke(args=["staff", "link", "--email", staff.email.upper(), "--citizen-account", new["email"]])
    assert linked.exit_code == 0, linked.output
    citizen = new_browser()
    sign_in(citizen, new["email"], new["password"])
    code = request_check(citizen)
    assert staff.get(look_up(staff, code).headers["Location"]).status_code == 403
    with app.app_context():
        assert Event.query.filter_by(tag="trust:staff:citizen_link").count() == 1


def test_a_colleague_can_confirm_the_staff_members_account(app, office, make_staff, make_account, new_browser):
    staff = make_staff(office["id"])
    colleague = make_staff(office["id"])
    own = make_account(email=staff.email)
    citizen = new_browser()
    sign_in(citizen, own["email"], own["password"])
    code = request_check(citizen)
    assert confirm_check(colleague, code).status_code == 200


def test_expired_code_is_refused(app, citizen, office, make_staff):
    code = request_check(citizen)
    with app.app_context():
        check = IdentityCheck.query.one()
        check.expires_at = check.created_at - timedelta(seconds=1)
        db.session.commit()
    staff = make_staff(office["id"])
    response = look_up(staff, code)
    assert response.status_code == 409
    assert Browser.soup(response).select_one("#check_code-error") is not None


def test_unknown_code_is_refused_and_throttled(app, office, make_staff):
    staff = make_staff(office["id"])
    app.config["THROTTLE_FREE_FAILURES"] = 2
    assert look_up(staff, "AAAA-AAAA").status_code == 404
    assert look_up(staff, "not a code").status_code == 404
    assert look_up(staff, "BBBB-BBBB").status_code == 429
    with app.app_context():
        searches = AuditEntry.query.filter_by(action="search").all()
        assert [e.details for e in searches] == [{"found": False}, {"found": False}]


def test_mistyped_codes_at_the_counter_do_not_lock_the_office_network_out_of_signing_in(
        app, office, make_staff, make_account, new_browser):
    """All browsers here share one address, as an office behind its town hall's NAT does. The clerks'
    failed look-ups count per clerk and per network among look-ups only: sign-ins from that network,
    staff's and citizens', go on."""
    app.config.update(THROTTLE_FREE_FAILURES=2, THROTTLE_IP_FREE_FAILURES=3)
    clerks = [make_staff(office["id"]) for _ in range(2)]
    answers = [look_up(clerk, code).status_code for clerk in clerks for code in ("AAAA-AAAA", "BBBB-BBBB")]
    assert answers == [404, 404, 404, 429]  # the network's look-ups are throttled together
    account = make_account()
    citizen = new_browser()
    assert sign_in(citizen, account["email"], account["password"]).status_code == 302
    assert make_staff(office["id"]).staff  # a third clerk signs in (password and TOTP) from there too


def test_check_pages_cannot_be_opened_without_the_code(app, citizen, office, make_staff):
    request_check(citizen)
    staff = make_staff(office["id"])
    with app.app_context():
        check_id = IdentityCheck.query.one().id
    assert staff.get(f"/staff/checks/{check_id}").status_code == 404


def test_expired_document_is_refused(app, citizen, office, make_staff):
    code = request_check(citizen)
    staff = make_staff(office["id"])
    response = confirm_check(staff, code, expires=date.today() - timedelta(days=1))
    assert response.status_code == 400
    assert Browser.soup(response).select_one("#document_expires_on-error") is not None
    with app.app_context():
        assert Verification.query.count() == 0


def test_one_document_on_two_accounts_is_held_for_office_admin(app, office, make_staff, make_account, new_browser):
    staff = make_staff(office["id"])
    first, second = make_account(), make_account()
    codes = []
    for account in (first, second):
        browser = new_browser()
        sign_in(browser, account["email"], account["password"])
        codes.append(request_check(browser))
    assert confirm_check(staff, codes[0], number="T22000129").status_code == 200
    held = confirm_check(staff, codes[1], number="t22 000 129")  # same number, typed differently
    assert held.status_code == 200
    with app.app_context():
        record = Verification.query.filter_by(status="held").one()
        public_id = record.public_id
        second_id = _account(app, second["email"]).id
        assert record.account_id == second_id
        with app.test_request_context():
            assert proofing_level(_account(app, second["email"])) == "low"
        hold = AuditEntry.query.filter_by(action="hold").one()
        assert hold.details["other_account_id"] == _account(app, first["email"]).id

    # A verifier cannot decide; the office-admin can.
    token = Browser.soup(staff.get("/staff/home")).select_one(f"{FORM} input[name=csrf_token]")["value"]
    assert staff.post(f"/staff/verifications/{public_id}/decide",
                      data={"decision": "approve", "csrf_token": token}).status_code == 403
    admin = make_staff(office["id"], role="office-admin")
    assert public_id in admin.get("/staff/home").get_data(as_text=True)
    response = admin.submit(f"/staff/verifications/{public_id}", {"decision": "approve"},
                            selector="form[action$='/decide']")
    assert response.status_code == 302
    with app.app_context(), app.test_request_context():
        assert proofing_level(_account(app, second["email"])) == "substantial"


def test_wrong_office_cannot_see_or_revoke(app, citizen, make_office, make_staff):
    leer = make_office()
    other = make_office(name="Bürgerbüro Moormerland", ags="03457013")
    staff = make_staff(leer["id"])
    code = request_check(citizen)
    assert confirm_check(staff, code).status_code == 200
    with app.app_context():
        public_id = Verification.query.one().public_id
    foreign_admin = make_staff(other["id"], role="office-admin")
    assert foreign_admin.get(f"/staff/verifications/{public_id}").status_code == 403
    token = Browser.soup(foreign_admin.get("/staff/home")).select_one(f"{FORM} input[name=csrf_token]")["value"]
    response = foreign_admin.post(f"/staff/verifications/{public_id}/revoke",
                                  data={"reason": "Not our record but trying anyway", "csrf_token": token})
    assert response.status_code == 403
    assert public_id[:8] not in foreign_admin.get("/staff/verifications").get_data(as_text=True)
    with app.app_context():
        assert Verification.query.one().status == "confirmed"


def test_staff_without_totp_get_no_staff_session(app, office, cli_json, new_browser):
    created = cli_json("staff", "create", "--email", "new@leer.example", "--office", str(office["id"]),
                       "--role", "verifier")
    browser = new_browser()
    staff_password_set(browser, created["setup_url"])
    response = staff_password_step(browser, "new@leer.example")
    assert response.headers["Location"].endswith("/staff/totp-setup")
    # Password alone opens nothing.
    for url in ("/staff/home", "/staff/verifications", "/staff/audit"):
        response = browser.get(url)
        assert response.status_code == 302 and "/staff?next=" in response.headers["Location"]
    wrong = browser.submit("/staff/totp-setup", {"code": "000000"})
    assert wrong.status_code == 400
    assert browser.get("/staff/home").status_code == 302
    with app.app_context():
        assert WebSession.query.filter_by(kind="staff").filter(WebSession.authenticated_at.isnot(None)).count() == 0


def test_second_sign_in_needs_password_and_code(app, office, make_staff, new_browser):
    staff = make_staff(office["id"])
    browser = new_browser()
    wrong = staff_password_step(browser, staff.email, "Falsches-Passwort-2026")
    assert wrong.status_code == 401
    response = staff_password_step(browser, staff.email)
    assert response.headers["Location"].endswith("/staff/second-factor")
    assert browser.get("/staff/home").status_code == 302
    assert browser.submit("/staff/second-factor", {"code": "123456"}).status_code == 401
    response = browser.submit("/staff/second-factor", {"code": staff.authenticator.code()})
    assert response.status_code == 302
    assert browser.get("/staff/home").status_code == 200


def test_citizen_session_is_refused_at_staff_entry(citizen, office, make_staff):
    make_staff(office["id"])
    for url in ("/staff", "/staff/home", "/staff/audit"):
        assert citizen.get(url).status_code == 403


def test_citizen_credentials_do_not_work_at_staff_entry(make_account, new_browser):
    account = make_account()
    browser = new_browser()
    assert staff_password_step(browser, account["email"], account["password"]).status_code == 401


def test_staff_session_cannot_be_used_as_citizen_session(app, office, make_staff, make_account):
    staff = make_staff(office["id"], email="clerk@leer.example")
    make_account(email="clerk@leer.example")  # same address as a citizen account
    response = staff.get("/account")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    with app.app_context():
        record = WebSession.query.filter_by(kind="staff", ended_at=None).filter(
            WebSession.authenticated_at.isnot(None)).one()
        assert record.account_id is None
    # The OIDC provider asks auth.current_account(): in a staff-signed-in request it gets nothing.
    cookie = staff.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    with app.test_request_context("/authorize", headers={"Cookie": f"{cookie.key}={cookie.value}"}):
        assert auth.current_record() is not None and auth.current_record().kind == "staff"
        assert auth.current_account() is None


def test_staff_idle_timeout_ends_access(app, office, make_staff):
    staff = make_staff(office["id"])
    with app.app_context():
        record = WebSession.query.filter_by(kind="staff", ended_at=None).filter(
            WebSession.authenticated_at.isnot(None)).one()
        record.last_seen_at = record.last_seen_at - app.config["STAFF_SESSION_IDLE_TIMEOUT"] - timedelta(seconds=1)
        db.session.commit()
    response = staff.get("/staff/home")
    assert response.status_code == 302 and "/staff" in response.headers["Location"]


def test_staff_forms_need_csrf_token(office, make_staff):
    staff = make_staff(office["id"])
    assert staff.post("/staff/home", data={"check_code": "AAAA-AAAA"}).status_code == 400


def test_verifier_cannot_export_audit_csv(office, make_staff):
    staff = make_staff(office["id"])
    assert staff.post("/staff/audit.csv", data={"csrf_token": staff.csrf_token("/staff/audit")}).status_code == 403


def test_the_audit_export_is_not_a_link_another_site_can_make_staff_follow(office, make_staff):
    admin = make_staff(office["id"], role="office-admin")

    def entries() -> int:  # the audit page's rows, "no entries yet" not counted
        rows = admin.soup(admin.get("/staff/audit")).select("tbody tr")
        return len([row for row in rows if not row.select("td[colspan]")])

    before = entries()
    assert admin.get("/staff/audit.csv").status_code == 405
    assert admin.post("/staff/audit.csv").status_code == 400  # no CSRF token
    assert entries() == before  # no export entry written


def test_setup_link_works_once(app, office, cli_json, new_browser):
    created = cli_json("staff", "create", "--email", "once@leer.example", "--office", str(office["id"]),
                       "--role", "verifier")
    staff_password_set(new_browser(), created["setup_url"])
    assert new_browser().get(created["setup_url"]).status_code == 400


def test_cli_refuses_bad_input(runner, office):
    assert runner.invoke(args=["offices", "create", "--name", "X", "--ags", "3457013"]).exit_code != 0
    result = runner.invoke(args=["staff", "create", "--email", "a@leer.example", "--office", "999",
                                 "--role", "verifier"])
    assert result.exit_code != 0 and "no office" in result.output
    result = runner.invoke(args=["staff", "create", "--email", "a@leer.example", "--office", str(office["id"]),
                                 "--role", "boss"])
    assert result.exit_code != 0


def test_disabled_staff_lose_access(app, runner, office, make_staff, new_browser):
    staff = make_staff(office["id"])
    result = runner.invoke(args=["staff", "disable", "--email", staff.email])
    assert result.exit_code == 0, result.output
    assert staff.get("/staff/home").status_code == 302
    assert staff_password_step(new_browser(), staff.email).status_code == 401


def test_staff_reset_link_replaces_password_and_totp(app, runner, cli_json, office, make_staff, new_browser):
    staff = make_staff(office["id"])
    reset = cli_json("staff", "reset", "--email", staff.email)
    assert staff.get("/staff/home").status_code == 302  # the old enrolment no longer counts
    assert staff_password_step(new_browser(), staff.email).status_code == 401
    browser = new_browser()
    staff_password_set(browser, reset["setup_url"])
    assert staff_password_step(browser, staff.email).headers["Location"].endswith("/staff/totp-setup")


def _held_by(app, clerk, make_account, new_browser):
    """Two accounts show the same document to ``clerk``; the second check is held. Returns its public id."""
    for account in (make_account(), make_account()):
        browser = new_browser()
        sign_in(browser, account["email"], account["password"])
        assert confirm_check(clerk, request_check(browser), number="T22000129").status_code == 200
    with app.app_context():
        return Verification.query.filter_by(status="held").one().public_id


def _decide(admin, public_id, decision, lang="de"):
    return admin.submit(f"/staff/verifications/{public_id}?lang={lang}", {"decision": decision},
                        selector="form[action$='/decide']")


def _message(app, exc_class, lang):
    with app.test_request_context(), force_locale(lang):
        return str(exc_class.message)


def test_the_office_admin_who_recorded_a_hold_cannot_decide_it(app, office, make_staff, make_account,
                                                               new_browser):
    """A hold (one document on two accounts) is a four-eyes decision: not by the clerk who saw the document."""
    clerk = make_staff(office["id"], role="office-admin")
    public_id = _held_by(app, clerk, make_account, new_browser)
    for decision, lang in (("approve", "de"), ("reject", "en")):
        refused = _decide(clerk, public_id, decision, lang)
        assert refused.status_code == 400
        error = Browser.soup(refused).select_one("#decision-error").get_text(" ", strip=True)
        assert _message(app, service.SameStaffDecision, lang) in error
    assert "four-eyes principle" in _message(app, service.SameStaffDecision, "en")
    with app.app_context():
        assert Verification.query.filter_by(public_id=public_id).one().status == "held"
        refusals = Event.query.filter_by(tag="trust:verification:decision_refused").all()
        assert [(e.details["verification"], e.details["reason"]) for e in refusals] == [
            (public_id, "four-eyes")] * 2
        assert AuditEntry.query.filter(AuditEntry.action.in_(("approve", "reject"))).count() == 0

    colleague = make_staff(office["id"], role="office-admin")
    assert _decide(colleague, public_id, "approve").status_code == 302
    with app.app_context():
        record = Verification.query.filter_by(public_id=public_id).one()
        assert record.status == "confirmed" and record.approved_by_id == colleague.staff["id"]
