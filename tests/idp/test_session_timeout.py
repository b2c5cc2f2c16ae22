"""The idle timeout made visible and adjustable (WCAG 2.2.1, 3.3.1): the limit said on every signed-in
page, the seconds left for static/session-timeout.js, "Stay signed in" (keep-alive), and a form sent
after the end answered with why and the way back to it. Time moves by shifting session timestamps."""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest

from buergerkonto.idp.sessions import lapse_reason
from buergerkonto.idp.timeutil import utcnow
from support.a11y import check_page
from support.browser import Browser
from trust_levels.conftest import cli_json, make_office, make_staff, new_browser, office  # noqa: F401 - fixtures
from trust_levels.helpers import FORM

from .conftest import sign_in

SCRIPT = Path(__file__).resolve().parents[2] / "idp" / "static" / "session-timeout.js"
PROFILE = {"name": "Erika Mustermann"}


def _age(database, minutes: float, column: str = "last_seen_at"):
    """Every live session's ``column`` so many minutes ago (the browser stood idle that long)."""
    database.execute(f"UPDATE web_session SET {column} = :t WHERE ended_at IS NULL",
                     t=utcnow() - timedelta(minutes=minutes))


def _signed_in_session(app) -> dict:
    """The one signed-in session's clock, as the app reads it."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        record = WebSession.query.filter(WebSession.ended_at.is_(None), WebSession.authenticated_at.isnot(None)).one()
        clock = {"id": record.id, "last_seen_at": record.last_seen_at, "expires_at": record.expires_at}
        db.session.remove()
    return clock


def _timing(soup) -> dict:
    body = soup.body
    return {name: int(body[f"data-session-{name}"]) for name in ("seconds-left", "idle-seconds", "warning-seconds")}


def _keep_alive(browser, token, **headers):
    return browser.post("/session/keep-alive", headers={"X-CSRFToken": token, "Accept": "application/json",
                                                       **headers})


def _notice(soup):
    return soup.find(id="session-timeout-notice")


# --- what a signed-in page says -------------------------------------------------------------------


def test_citizen_pages_say_the_limit_and_tell_the_script_the_seconds_left(signed_in, database):
    _age(database, 10)  # a page after ten idle minutes counts as activity: the clock starts again
    soup = check_page(signed_in.get("/account/profile?lang=en"), 200)
    assert _timing(soup) == {"seconds-left": 1800, "idle-seconds": 1800, "warning-seconds": 120}
    footer = soup.find("footer").get_text(" ", strip=True)
    assert "For your security you are signed out after 30 minutes without activity." in footer
    script = soup.find("script")
    assert script["src"] == "/static/session-timeout.js" and script.has_attr("defer") and not script.string
    notice = _notice(soup)  # hidden: the script shows a copy of it
    assert notice.has_attr("hidden") and notice.find_parent("main") is None
    assert notice["data-keep-alive-url"] == "/session/keep-alive" and notice["data-csrf-token"]
    assert notice.find("button", type="button").get_text(strip=True) == "Stay signed in"
    assert "Your session ends in 2 minutes." in notice.get_text(" ", strip=True)
    again = notice.find("a", string="Sign in again")
    assert unquote(again["href"]) == "/sign-in?next=/account/profile?lang=en"


@pytest.mark.parametrize("lang, footer_text, notice_text", [
    ("en", "A sign-in lasts at most 12 hours; then you sign in again.",
     "For your security a sign-in lasts at most 12 hours. Your session ends in 2 minutes. "
     "Finish what you are typing now; afterwards you sign in again."),
    ("de", "Eine Anmeldung gilt höchstens 12 Stunden; danach melden Sie sich erneut an.",
     "Aus Sicherheitsgründen gilt eine Anmeldung höchstens 12 Stunden. Ihre Sitzung endet in 2 Minuten. "
     "Schließen Sie Ihre Eingabe jetzt ab; danach melden Sie sich erneut an."),
])
def test_pages_say_the_lifetime_and_tell_the_script_when_it_ends(signed_in, database, lang, footer_text,
                                                                 notice_text):
    # The absolute lifetime (12 hours) cannot be extended; pages say it, and the script warns before it ends.
    database.execute("UPDATE web_session SET expires_at = :t WHERE ended_at IS NULL",
                     t=utcnow() + timedelta(minutes=3))
    soup = check_page(signed_in.get(f"/account/profile?lang={lang}"), 200)
    assert 170 <= int(soup.body["data-session-lifetime-seconds-left"]) <= 180
    assert footer_text in soup.find("p", class_="session-limit").get_text(" ", strip=True)
    lifetime = _notice(soup).find(class_="session-notice-lifetime")
    assert lifetime.has_attr("hidden")
    assert " ".join(lifetime.get_text(" ", strip=True).split()) == notice_text
    # Nothing to press: neither a button nor signing in again in this session extends it.
    assert lifetime.find("button") is None and lifetime.find("a") is None


def test_an_unwritten_touch_leaves_the_seconds_already_spent_out(signed_in, database):
    """Within a minute of the last write the session is not written again, so the clock runs on from then."""
    signed_in.get("/account")  # (the first page after the sign-in writes the session: a new CSRF token)
    _age(database, 0.5)
    left = _timing(Browser.soup(signed_in.get("/account")))["seconds-left"]
    assert 1740 <= left <= 1770


def test_german_footer_names_the_configured_minutes(make_app, make_account):
    app = make_app(SESSION_IDLE_TIMEOUT=timedelta(minutes=20))
    browser = Browser(app.test_client())
    account = make_account()
    sign_in(browser, account["email"], account["password"])
    soup = check_page(browser.get("/account"), 200)
    assert _timing(soup)["idle-seconds"] == 1200
    assert re.search(r"\b20\b", soup.find("p", class_="session-limit").get_text())


@pytest.mark.parametrize("path", ["/", "/sign-in", "/register", "/no-such-page"])
def test_pages_without_a_signed_in_session_carry_no_timer(client, path):
    soup = Browser.soup(client.get(path))
    assert not soup.body.attrs and soup.find("script") is None and _notice(soup) is None
    assert soup.find(class_="session-limit") is None


def test_staff_pages_use_the_staff_limit(make_staff, office):
    staff = make_staff(office["id"])
    soup = check_page(staff.get("/staff/home?lang=en"), 200)
    assert _timing(soup)["idle-seconds"] == 600
    assert "signed out after 10 minutes without activity" in soup.find("footer").get_text(" ", strip=True)
    assert unquote(_notice(soup).find("a")["href"]) == "/staff?next=/staff/home?lang=en"


def test_pages_carry_no_inline_script(signed_in):
    """script-src 'self': the timer is a static file, and no page has script of its own."""
    for path in ("/account", "/account/profile", "/account/delete"):
        response = signed_in.get(path)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert all(script.get("src") for script in Browser.soup(response).find_all("script")), path


def test_the_script_is_served_and_finds_what_the_page_gives_it(client, signed_in):
    response = client.get("/static/session-timeout.js")
    assert response.status_code == 200 and response.mimetype in ("text/javascript", "application/javascript")
    response.close()
    soup = Browser.soup(signed_in.get("/account"))
    source = SCRIPT.read_text()
    notice = _notice(soup)
    assert f'getElementById("{notice["id"]}")' in source
    for data_name in ("sessionSecondsLeft", "sessionIdleSeconds", "sessionWarningSeconds", "sessionLifetimeSecondsLeft"):
        attribute = "data-" + re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), data_name)
        assert f"dataset.{data_name}" in source and soup.body.has_attr(attribute)
    for data_name in ("keepAliveUrl", "csrfToken"):
        attribute = "data-" + re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), data_name)
        assert f"dataset.{data_name}" in source and notice.has_attr(attribute)
    for class_name in re.findall(r'querySelector\("\.([\w-]+)"\)', source):
        assert notice.find(class_=class_name) is not None, class_name
    assert '"X-CSRFToken"' in source and 'setAttribute("role", "alert")' in source


# --- "Stay signed in" -----------------------------------------------------------------------------


def test_keep_alive_restarts_the_idle_clock_but_not_the_lifetime(app, signed_in, database):
    token = _notice(Browser.soup(signed_in.get("/account")))["data-csrf-token"]
    _age(database, 28)
    before = _signed_in_session(app)
    response = _keep_alive(signed_in, token)
    assert response.status_code == 204 and response.get_data() == b""
    after = _signed_in_session(app)
    assert after["id"] == before["id"] and after["expires_at"] == before["expires_at"]
    assert after["last_seen_at"] - before["last_seen_at"] >= timedelta(minutes=28)


def test_keep_alive_needs_the_csrf_token(signed_in):
    signed_in.get("/account")
    for headers in ({}, {"X-CSRFToken": "forged"}):
        response = signed_in.post("/session/keep-alive", headers={"Accept": "application/json", **headers})
        assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_keep_alive_without_a_sign_in_is_refused(browser, database):
    token = browser.csrf_token("/sign-in")  # an anonymous session with a valid token
    response = _keep_alive(browser, token)
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("column, minutes", [("last_seen_at", 31), ("expires_at", 1)])
def test_keep_alive_cannot_revive_an_ended_session(signed_in, database, column, minutes):
    token = _notice(Browser.soup(signed_in.get("/account")))["data-csrf-token"]
    _age(database, minutes, column)
    assert _keep_alive(signed_in, token).status_code == 400
    assert signed_in.get("/account").status_code == 302


def test_keep_alive_keeps_a_staff_session(app, make_staff, office, database):
    staff = make_staff(office["id"])
    token = _notice(Browser.soup(staff.get("/staff/home")))["data-csrf-token"]
    _age(database, 9)
    before = _signed_in_session(app)
    assert _keep_alive(staff, token).status_code == 204
    assert _signed_in_session(app)["last_seen_at"] - before["last_seen_at"] >= timedelta(minutes=9)


# --- a form sent after the end -------------------------------------------------------------------


def test_a_form_sent_after_the_idle_limit_says_why_and_leads_back_to_it(signed_in, database):
    page = signed_in.get("/account/profile?lang=en")
    _age(database, 31)
    response = signed_in.submit_page(page, PROFILE)
    soup = check_page(response, 400)
    assert soup.title.get_text() == "Your session has expired – Bürgerkonto"
    assert soup.h1.get_text() == "Your session has expired"
    assert ("You were inactive for more than 30 minutes. For your security you were signed out; the form "
            "was not sent. Please sign in again.") in soup.find("main").get_text(" ", strip=True)
    again = soup.find("a", string="Sign in again")
    assert unquote(again["href"]) == "/sign-in?next=/account/profile?lang=en"
    assert database.account(signed_in.account["email"])["name"] in (None, "")
    # Signing in again leads back to the form.
    page = signed_in.get(again["href"])
    response = signed_in.submit_page(page, {"email": signed_in.account["email"],
                                            "password": signed_in.account["password"]})
    assert unquote(response.headers["Location"]).endswith("/account/profile?lang=en")


def test_the_language_chosen_outlives_the_session(signed_in, database):
    signed_in.get("/account?lang=en")  # chosen once; the pages after carry no ?lang=
    page = signed_in.get("/account/password")
    _age(database, 31)
    soup = check_page(signed_in.submit_page(page, {}), 400)
    assert soup.html["lang"] == "en" and soup.h1.get_text() == "Your session has expired"
    sign_in_page = Browser.soup(signed_in.get(soup.find("a", string="Sign in again")["href"]))
    assert sign_in_page.html["lang"] == "en"


def test_german_expired_page_passes_the_checks(signed_in, database):
    page = signed_in.get("/account/password")
    _age(database, 31)
    soup = check_page(signed_in.submit_page(page, {}), 400)
    assert soup.html["lang"] == "de"
    assert re.search(r"\b30\b", soup.find("main").get_text())
    assert unquote(soup.find("main").find("a")["href"]) == "/sign-in?next=/account/password"


def test_an_action_below_its_page_leads_back_to_the_page(signed_in, database):
    """The account page's "end all other sessions" posts to /account/sessions/end-all."""
    page = signed_in.get("/account")
    _age(database, 31)
    response = signed_in.submit_page(page, {}, selector="form[action='/account/sessions/end-all']")
    assert unquote(Browser.soup(response).find("main").find("a")["href"]) == "/sign-in?next=/account"


def test_staff_form_after_the_staff_limit_leads_to_the_staff_sign_in(make_staff, office, database):
    staff = make_staff(office["id"])
    page = staff.get("/staff/home?lang=en")
    _age(database, 11)
    response = staff.submit_page(page, {"check_code": "ABCD-EFGH"}, selector=FORM)
    soup = check_page(response, 400)
    assert "inactive for more than 10 minutes" in soup.find("main").get_text(" ", strip=True)
    again = soup.find("a", string="Sign in again")
    assert unquote(again["href"]) == "/staff?next=/staff/home?lang=en"


@pytest.mark.parametrize("column, title", [("ended_at", "Your session has ended"),
                                           ("expires_at", "Your session has expired")])
def test_a_form_after_a_sign_out_elsewhere_or_the_lifetime_says_so(signed_in, database, column, title):
    page = signed_in.get("/account/profile?lang=en")
    database.execute(f"UPDATE web_session SET {column} = :t WHERE ended_at IS NULL", t=utcnow())
    soup = check_page(signed_in.submit_page(page, PROFILE), 400)
    assert soup.h1.get_text() == title
    text = soup.find("main").get_text(" ", strip=True)
    assert "You are no longer signed in, so the form was not sent." in text and "inactive" not in text
    assert soup.find("a", string="Sign in again") is not None


def test_other_token_failures_lead_back_to_the_form(signed_in):
    page = signed_in.get("/account/profile?lang=en")
    form = signed_in.soup(page).select_one("form[method=post]")
    data = {el["name"]: el.get("value", "") for el in form.select("input[name]")}
    response = signed_in.post("/account/profile?lang=en", data={**data, "csrf_token": "forged"})
    soup = check_page(response, 400)
    assert soup.h1.get_text() == "The form has expired"
    assert unquote(soup.find("a", string="Back to the form")["href"]) == "/account/profile?lang=en"
    assert signed_in.get("/account").status_code == 200  # still signed in


def test_an_idle_sign_in_page_is_no_ended_session(browser, database, make_account):
    """Nobody was signed in: the plain expired-form page, leading back to the sign-in."""
    account = make_account()
    page = browser.get("/sign-in?next=/account")
    _age(database, 31)
    response = browser.submit_page(page, {"email": account["email"], "password": account["password"]})
    soup = check_page(response, 400)  # (German: the language chosen was the idle session's)
    assert soup.h1.get_text() == "Das Formular ist abgelaufen"
    assert unquote(soup.find("a", string="Zurück zur Anmeldung")["href"]) == "/sign-in?next=/account"


def test_whichever_end_came_first_is_the_reason(app):
    from buergerkonto.idp.models import WebSession

    now = utcnow()
    idle = app.config["SESSION_IDLE_TIMEOUT"]

    def record(**moments):
        fields = {"kind": "citizen", "last_seen_at": now, "expires_at": now + timedelta(hours=1), "ended_at": None}
        return WebSession(**{**fields, **moments})

    assert lapse_reason(app, record(), now) is None
    assert lapse_reason(app, record(last_seen_at=now - idle), now) == "idle"
    assert lapse_reason(app, record(expires_at=now), now) == "lifetime"
    assert lapse_reason(app, record(ended_at=now), now) == "ended"
    # `sessions expire` ends idle sessions later: idleness ended it.
    assert lapse_reason(app, record(last_seen_at=now - 2 * idle, ended_at=now), now) == "idle"
    assert lapse_reason(app, record(last_seen_at=now - 2 * idle, expires_at=now - idle - idle), now) == "lifetime"
    staff = record(kind="staff", last_seen_at=now - app.config["STAFF_SESSION_IDLE_TIMEOUT"])
    assert lapse_reason(app, staff, now) == "idle"
