"""A staff member's reset or off-boarding ends the browsers signed in with the old credentials: a lost
laptop's session does not come back to life once the employee has enrolled a new authenticator."""

from trust_levels.helpers import Authenticator, staff_password_set, staff_password_step

from buergerkonto.idp.extensions import db
from buergerkonto.idp.models import WebSession
from buergerkonto.idp.timeutil import utcnow
from buergerkonto.trust_levels.models import StaffMember
from support.browser import Browser


def _open_staff_sessions(app, staff_id):
    with app.app_context():
        records = WebSession.query.filter_by(kind="staff", ended_at=None).all()
        return [r.sid for r in records if (r.data or {}).get("staff_id") == staff_id]


def _set_up_again(browser, email, setup_url):
    """The employee's new password and new authenticator, on a new device."""
    staff_password_set(browser, setup_url)
    assert staff_password_step(browser, email).headers["Location"].endswith("/staff/totp-setup")
    secret = Browser.soup(browser.get("/staff/totp-setup")).select_one(".secret").get_text(strip=True)
    assert browser.submit("/staff/totp-setup", {"code": Authenticator(secret).code()}).status_code == 302
    assert browser.get("/staff/home").status_code == 200


def test_reset_ends_the_old_session_for_good(app, cli_json, office, make_staff, new_browser):
    lost_laptop = make_staff(office["id"])
    assert lost_laptop.get("/staff/home").status_code == 200
    reset = cli_json("staff", "reset", "--email", lost_laptop.email)
    assert _open_staff_sessions(app, lost_laptop.staff["id"]) == []

    _set_up_again(new_browser(), lost_laptop.email, reset["setup_url"])
    response = lost_laptop.get("/staff/home")
    assert response.status_code == 302 and "/staff?next=" in response.headers["Location"]


def test_reset_leaves_colleagues_signed_in(app, cli_json, office, make_staff):
    staff = make_staff(office["id"])
    colleague = make_staff(office["id"])
    cli_json("staff", "reset", "--email", staff.email)
    assert colleague.get("/staff/home").status_code == 200
    assert len(_open_staff_sessions(app, colleague.staff["id"])) == 1


def test_disable_ends_the_open_sessions(app, runner, office, make_staff):
    staff = make_staff(office["id"])
    assert len(_open_staff_sessions(app, staff.staff["id"])) == 1
    result = runner.invoke(args=["staff", "disable", "--email", staff.email])
    assert result.exit_code == 0, result.output
    assert _open_staff_sessions(app, staff.staff["id"]) == []
    assert staff.get("/staff/home").status_code == 302


def test_a_session_signed_in_before_the_credentials_were_set_is_refused(app, office, make_staff):
    """Belt and braces: a session that the reset did not end still cannot outlive the old credentials."""
    staff = make_staff(office["id"])
    with app.app_context():
        member = db.session.get(StaffMember, staff.staff["id"])
        member.password_set_at = utcnow()  # set anew after this browser signed in
        db.session.commit()
    response = staff.get("/staff/home")
    assert response.status_code == 302 and "/staff?next=" in response.headers["Location"]


def test_a_password_step_before_a_reset_cannot_enrol_an_authenticator(app, cli_json, office, make_staff,
                                                                       new_browser):
    """Someone who typed the old password just before the reset must not enrol their own authenticator
    once the employee has chosen a new password (the step waits up to five minutes for its code)."""
    staff = make_staff(office["id"])
    intruder = new_browser()
    assert staff_password_step(intruder, staff.email).headers["Location"].endswith("/staff/second-factor")
    reset = cli_json("staff", "reset", "--email", staff.email)
    staff_password_set(new_browser(), reset["setup_url"])

    response = intruder.get("/staff/totp-setup")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff")
    assert intruder.get("/staff/home").status_code == 302
