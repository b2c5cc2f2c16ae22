"""The staff pages' Sec-Fetch-Site guard, the own-account events and the counter throttle, seen by an
attacker. Tests that say "found by a review" failed before their fix; the others are regression tests."""

from trust_levels.helpers import FORM, confirm_check, look_up, request_check, staff_password_step

from buergerkonto.idp.models import Event
from buergerkonto.trust_levels.models import AuditEntry, Verification

CROSS = {"Sec-Fetch-Site": "cross-site"}


def _views(app) -> int:
    with app.app_context():
        return AuditEntry.query.filter_by(action="view").count()


def _record_url(app) -> str:
    with app.app_context():
        return f"/staff/verifications/{Verification.query.one().public_id}"


def test_a_link_elsewhere_does_not_open_a_record_through_the_sign_in(app, citizen, office, make_staff,
                                                                     new_browser):
    """Found by a review. A clerk whose staff session has lapsed (or who is signed out) follows a link on another
    site to a record. ``staff_required`` checks the sign-in before the Sec-Fetch-Site guard and sends
    the browser to the staff sign-in with ``next`` = the record; after password and code (same-origin
    requests) the record opens and a ``view`` is written: the link, not the clerk, chose the record."""
    clerk = make_staff(office["id"])
    assert confirm_check(clerk, request_check(citizen)).status_code == 200
    url = _record_url(app)
    views = _views(app)
    browser = new_browser()  # the same clerk, not signed in in this browser
    response = browser.get(url, headers=CROSS)
    assert response.status_code == 302 and response.headers["Location"] == "/staff"  # no next chosen by the link
    step = browser.submit(response.headers["Location"], {"email": clerk.email,
                                                          "password": "Schalter-Passphrase-2026"})
    assert step.status_code == 302 and step.headers["Location"].endswith("/staff/second-factor")
    done = browser.submit("/staff/second-factor", {"code": clerk.authenticator.code()})
    page = browser.follow(done)
    assert _views(app) == views and "Mustermann" not in page.get_data(as_text=True), (
        f"the record opened after the sign-in the link led to ({page.request.path}); views {views} -> {_views(app)}")


# --- regression tests ---------------------------------------------------------------------------


def test_head_from_another_site_writes_no_view(app, citizen, office, make_staff):
    clerk = make_staff(office["id"])
    assert confirm_check(clerk, request_check(citizen)).status_code == 200
    url, views = _record_url(app), _views(app)
    for site in ("cross-site", "same-site"):
        assert clerk.client.head(url, headers={"Sec-Fetch-Site": site}).status_code == 200
    assert _views(app) == views


def test_a_check_page_opened_from_another_site_writes_nothing(app, citizen, office, make_staff):
    """The check page of an own account writes a security event on GET: not from another site either."""
    code = request_check(citizen)
    clerk = make_staff(office["id"], email=citizen.account["email"].upper())  # the clerk's own account
    response = look_up(clerk, code)
    assert response.status_code == 302
    check_url = response.headers["Location"]
    with app.app_context():
        before = Event.query.filter_by(tag="trust:own_account_refused").count()
    page = clerk.get(check_url, headers=CROSS)
    assert page.status_code == 200 and "Mustermann" not in page.get_data(as_text=True)
    with app.app_context():
        assert Event.query.filter_by(tag="trust:own_account_refused").count() == before
    # Opened from here, it is refused with its event.
    assert clerk.get(check_url).status_code == 403
    with app.app_context():
        assert Event.query.filter_by(tag="trust:own_account_refused").count() == before + 1


def test_a_post_from_another_site_is_refused_without_the_token(app, citizen, office, make_staff):
    """Cross-site POSTs are not let through by the GET-only guard: the CSRF token refuses them."""
    code = request_check(citizen)
    clerk = make_staff(office["id"])
    with app.app_context():
        searches = AuditEntry.query.filter_by(action="search").count()
    response = clerk.post("/staff/home", data={"check_code": code}, headers=CROSS)
    assert response.status_code in (400, 200) and "Location" not in response.headers
    with app.app_context():
        assert AuditEntry.query.filter_by(action="search").count() == searches


def test_the_interstitial_links_to_the_same_address_only(app, citizen, office, make_staff):
    clerk = make_staff(office["id"])
    page = clerk.get("/staff/audit?x=%22%3E%3Cscript%3E", headers=CROSS)
    assert page.status_code == 200
    link = clerk.soup(page).find("a", string="Seite öffnen")
    assert link is not None and link["href"].startswith("/staff/audit?x=")
    assert "<script>" not in page.get_data(as_text=True)


def test_look_ups_from_one_ipv6_network_share_a_counter(app, office, make_staff):
    """The per-network look-up key cannot be varied by picking another address of one's /64."""
    app.config.update(THROTTLE_FREE_FAILURES=50, THROTTLE_IP_FREE_FAILURES=2)
    clerk = make_staff(office["id"])
    answers = []
    for host in range(1, 5):
        page = clerk.get("/staff/home")
        token = clerk.soup(page).select_one(f"{FORM} input[name=csrf_token]")["value"]
        answers.append(clerk.post("/staff/home", data={"csrf_token": token, "check_code": "AAAA-AAAA"},
                                  environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{host}"}).status_code)
    assert answers[-1] == 429 and answers[0] == 404, answers


def test_staff_sign_in_itself_opens_from_a_link(new_browser):
    """The guard does not break the sign-in page a link elsewhere leads to."""
    browser = new_browser()
    assert browser.get("/staff", headers=CROSS).status_code == 200
    assert staff_password_step(browser, "nobody@leer.example").status_code == 401
