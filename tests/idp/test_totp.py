"""TOTP as a second factor: enrolment, the ±1 step window, no replay, recovery codes, switching off."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from buergerkonto.idp import throttle
from support.browser import Browser

from .conftest import code_at, enrol_totp, sign_in, sign_out

STEP = 30


@pytest.fixture
def enrolled(signed_in, totp_clock, database):
    """A signed-in browser whose account has TOTP on; ``.secret`` and ``.codes`` are attached."""
    signed_in.secret, signed_in.codes = enrol_totp(signed_in, totp_clock)
    return signed_in


def _password_step(browser, account):
    response = sign_in(browser, account["email"], account["password"])
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in/second-factor"
    return response


def _code_step(browser, code):
    return browser.submit("/sign-in/second-factor", {"code": code})


def _fresh_browser(app):
    return Browser(app.test_client())


def test_enrolment_page_shows_svg_qr_code_and_secret(signed_in):
    page = signed_in.get("/account/totp")
    assert page.status_code == 200
    soup = signed_in.soup(page)
    svg = soup.select_one(".qr svg")
    assert svg is not None and svg.find("title") is not None  # inline SVG with an accessible name
    secret = soup.select_one(".secret").get_text(strip=True)
    assert len(secret) >= 32 and pyotp.TOTP(secret).now().isdigit()
    # The same secret stays while the citizen types the code (reload does not change it).
    assert signed_in.soup(signed_in.get("/account/totp")).select_one(".secret").get_text(strip=True) == secret
    code_field = soup.select_one("input[name=code]")
    assert code_field["autocomplete"] == "one-time-code"
    # Shown in groups of four for typing by hand; copied, it has no spaces.
    groups = [span.get_text() for span in soup.select(".secret > span")]
    assert "".join(groups) == secret and {len(g) for g in groups[:-1]} == {4} and " " not in secret


def test_a_wrong_first_code_does_not_switch_totp_on(signed_in, totp_clock, database):
    page = signed_in.get("/account/totp")
    secret = signed_in.soup(page).select_one(".secret").get_text(strip=True)
    wrong = code_at(secret, totp_clock.now + 5 * STEP)
    response = signed_in.submit_page(page, {"code": wrong})
    assert response.status_code == 400
    assert signed_in.soup(response).select_one("#code-error")
    assert database.account(signed_in.account["email"])["totp_enabled_at"] is None


def _signed_in_minutes_ago(database, account, minutes):
    database.execute("UPDATE web_session SET authenticated_at = :at WHERE account_id = :id AND ended_at IS NULL",
                     at=datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=minutes), id=account["id"])


def test_enrolment_right_after_sign_in_needs_no_password(signed_in, totp_clock, database):
    page = signed_in.get("/account/totp")
    assert not signed_in.soup(page).select_one("input[name=current_password]")
    secret = signed_in.soup(page).select_one(".secret").get_text(strip=True)
    assert signed_in.submit_page(page, {"code": code_at(secret, totp_clock.now)}).status_code == 200
    assert database.account(signed_in.account["email"])["totp_enabled_at"] is not None


def test_enrolment_long_after_sign_in_needs_the_password(signed_in, totp_clock, database):
    # Whoever took over a session must not bind their own authenticator and take the recovery codes.
    _signed_in_minutes_ago(database, signed_in.account, 6)
    page = signed_in.get("/account/totp")
    field = signed_in.soup(page).select_one("input[name=current_password]")
    assert field is not None and field["autocomplete"] == "current-password"
    secret = signed_in.soup(page).select_one(".secret").get_text(strip=True)
    for password in ("", "falsch-geraten-1"):
        response = signed_in.submit_page(page, {"code": code_at(secret, totp_clock.now),
                                                "current_password": password})
        assert response.status_code == 400
        assert signed_in.soup(response).select_one("#current_password-error")
        assert database.account(signed_in.account["email"])["totp_enabled_at"] is None
    assert "account:reauth:failure" in database.tags(signed_in.account["id"])
    response = signed_in.submit_page(page, {"code": code_at(secret, totp_clock.now + STEP),
                                            "current_password": signed_in.account["password"]})
    assert response.status_code == 200 and signed_in.soup(response).select("ul.codes li")
    assert database.account(signed_in.account["email"])["totp_enabled_at"] is not None


def test_enrolment_long_after_sign_in_without_a_password_asks_to_sign_in_again(signed_in, totp_clock, database):
    database.execute("UPDATE account SET password_hash = NULL WHERE id = :id", id=signed_in.account["id"])
    _signed_in_minutes_ago(database, signed_in.account, 6)
    page = signed_in.get("/account/totp")
    soup = signed_in.soup(page)
    assert not soup.select_one("input[name=current_password]")
    assert soup.select_one("form a[href^='/sign-in?next=']")
    secret = soup.select_one(".secret").get_text(strip=True)
    response = signed_in.submit_page(page, {"code": code_at(secret, totp_clock.now)})
    assert response.status_code == 400 and signed_in.soup(response).select_one(".error-summary")
    assert database.account(signed_in.account["email"])["totp_enabled_at"] is None


def test_enrolment_stores_secret_encrypted_and_ten_hashed_recovery_codes(enrolled, database):
    row = database.account(enrolled.account["email"])
    assert row["totp_enabled_at"] is not None
    assert enrolled.secret not in row["totp_secret"]
    assert len(enrolled.codes) == 10 and len(set(enrolled.codes)) == 10
    stored = database.rows("SELECT code_hash FROM recovery_code WHERE account_id = :a", a=row["id"])
    assert len(stored) == 10
    for code_row in stored:
        assert len(code_row["code_hash"]) == 64  # a keyed SHA-256, never the code
        for code in enrolled.codes:
            assert code.replace("-", "") not in code_row["code_hash"]
    assert "account:totp:enable" in database.tags(row["id"])


def test_recovery_codes_are_shown_only_once(enrolled):
    for url in ("/account", "/account/totp", "/account/recovery-codes"):
        html = enrolled.follow(enrolled.get(url)).get_data(as_text=True)
        for code in enrolled.codes:
            assert code not in html, url


def test_sign_in_asks_for_the_code_and_does_not_sign_in_before(enrolled, app, totp_clock):
    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    assert browser.get("/account").status_code == 302  # not signed in yet
    totp_clock.now += STEP
    response = _code_step(browser, code_at(enrolled.secret, totp_clock.now))
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert browser.get("/account").status_code == 200


def test_second_factor_page_without_a_password_step_goes_back_to_sign_in(app):
    browser = _fresh_browser(app)
    response = browser.get("/sign-in/second-factor")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize("offset, accepted", [(-1, True), (0, True), (1, True), (-2, False), (2, False)])
def test_codes_are_accepted_one_step_either_side(enrolled, app, totp_clock, offset, accepted):
    totp_clock.now += 10 * STEP  # well past the step used at enrolment
    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    response = _code_step(browser, code_at(enrolled.secret, totp_clock.now + offset * STEP))
    assert (response.status_code == 302) is accepted
    if not accepted:
        assert response.status_code == 401


# Arabic-Indic and superscript digits: str.isdigit() says yes to both.
OTHER_DIGITS = ["\u0661\u0662\u0663\u0664\u0665\u0666", "\u00b9\u00b2\u00b3\u00b9\u00b2\u00b3"]


@pytest.mark.parametrize("code", OTHER_DIGITS)
def test_digits_other_than_0_to_9_are_a_wrong_code_not_a_crash(enrolled, app, database, code):
    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    response = _code_step(browser, code)
    assert response.status_code == 401
    assert browser.soup(response).select_one("#code-error")
    # ... and counted like any wrong code (an exception would have rolled the count back).
    with app.app_context():
        key = throttle.account_key(f"totp:{enrolled.account['id']}")
    assert database.one("SELECT failures FROM throttle_counter WHERE key = :key", key=key)["failures"] == 1


@pytest.mark.parametrize("code", OTHER_DIGITS)
def test_enrolment_with_digits_other_than_0_to_9_is_refused_next_to_the_field(signed_in, database, code):
    response = signed_in.submit("/account/totp", {"code": code})
    assert response.status_code == 400
    assert signed_in.soup(response).select_one("#code-error")
    assert database.account(signed_in.account["email"])["totp_enabled_at"] is None


def test_the_same_code_is_never_accepted_twice(enrolled, app, totp_clock, database):
    totp_clock.now += 2 * STEP
    code = code_at(enrolled.secret, totp_clock.now)
    first = _fresh_browser(app)
    _password_step(first, enrolled.account)
    assert _code_step(first, code).status_code == 302

    second = _fresh_browser(app)
    _password_step(second, enrolled.account)
    refused = _code_step(second, code)
    assert refused.status_code == 401
    assert second.soup(refused).select_one("#code-error")
    # An older code within the window is refused too: steps only move forward.
    assert _code_step(second, code_at(enrolled.secret, totp_clock.now - STEP)).status_code == 401
    # The next step's code still works.
    assert _code_step(second, code_at(enrolled.secret, totp_clock.now + STEP)).status_code == 302


def test_the_enrolment_code_cannot_be_replayed_at_sign_in(enrolled, app, totp_clock):
    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    assert _code_step(browser, code_at(enrolled.secret, totp_clock.now)).status_code == 401


def test_two_concurrent_requests_with_the_same_code_succeed_once(app, make_account, totp_clock, backend,
                                                                  database):
    """The accepted step is recorded with a conditional update: the second racer must lose."""
    from buergerkonto.idp import totp
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account
    from buergerkonto.idp.timeutil import utcnow

    account_id = make_account()["id"]
    secret = pyotp.random_base32()
    with app.app_context():
        account = db.session.get(Account, account_id)
        account.totp_secret = totp.encrypt_secret(secret, account_id)
        account.totp_enabled_at = utcnow()
        db.session.commit()
    code = code_at(secret, totp_clock.now)
    results = {}

    def second_request():
        with app.app_context():
            results["second"] = totp.consume_code(db.session.get(Account, account_id), code)
            db.session.commit()

    with app.app_context():
        # The first request has accepted the code but not yet committed ...
        results["first"] = totp.consume_code(db.session.get(Account, account_id), code)
        racer = threading.Thread(target=second_request)
        racer.start()
        if backend == "postgresql":
            # ... and the second is waiting on the row lock the first holds.
            _wait_for_lock_waiter(database)
        db.session.commit()
    racer.join()
    assert results == {"first": True, "second": False}


def _wait_for_lock_waiter(database, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = database.one("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        if waiting["n"]:
            return
        time.sleep(0.01)
    raise AssertionError("the second request never waited for the row lock")


def test_a_step_up_gives_the_session_a_new_cookie_token(app, make_account, totp_clock):
    # A browser signed in with the password before two-step sign-in was switched on, then steps up:
    # a copy of its old cookie must not carry the second factor.
    account = make_account()
    laptop, phone = _fresh_browser(app), _fresh_browser(app)
    for browser in (laptop, phone):
        assert sign_in(browser, account["email"], account["password"]).status_code == 302
    laptop.account = account
    secret, _codes = enrol_totp(laptop, totp_clock)
    copied = phone.client.get_cookie("bk_session").value
    totp_clock.now += STEP
    response = phone.submit("/sign-in/second-factor?next=/account", {"code": code_at(secret, totp_clock.now)})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert phone.client.get_cookie("bk_session").value != copied
    assert phone.get("/account").status_code == 200
    thief = _fresh_browser(app)
    thief.client.set_cookie("bk_session", copied)
    assert thief.get("/account").status_code == 302


def test_recovery_code_signs_in_once(enrolled, app, database):
    code = enrolled.codes[3]
    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    # Typed in lower case without the dash: still the code.
    assert _code_step(browser, code.lower().replace("-", "")).status_code == 302
    assert browser.get("/account").status_code == 200
    assert "account:recovery_code:used" in database.tags(enrolled.account["id"])
    unused = database.rows("SELECT id FROM recovery_code WHERE account_id = :a AND used_at IS NULL",
                           a=enrolled.account["id"])
    assert len(unused) == 9

    again = _fresh_browser(app)
    _password_step(again, enrolled.account)
    assert _code_step(again, code).status_code == 401
    assert _code_step(again, enrolled.codes[4]).status_code == 302


def test_a_made_up_recovery_code_is_refused(enrolled, app):
    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    assert _code_step(browser, "ABCDE-FGHJK").status_code == 401
    assert browser.get("/account").status_code == 302


def test_new_recovery_codes_need_the_password_and_replace_the_old(enrolled, app, database):
    wrong = enrolled.submit("/account/recovery-codes", {"current_password": "falsch-falsch-falsch"})
    assert wrong.status_code == 400
    page = enrolled.submit("/account/recovery-codes", {"current_password": enrolled.account["password"]})
    assert page.status_code == 200
    new_codes = [li.get_text(strip=True) for li in enrolled.soup(page).select("ul.codes li")]
    assert len(new_codes) == 10 and not set(new_codes) & set(enrolled.codes)

    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    assert _code_step(browser, enrolled.codes[0]).status_code == 401
    assert _code_step(browser, new_codes[0]).status_code == 302


def test_switching_totp_off_needs_the_password(enrolled, app, database, smtp):
    wrong = enrolled.submit("/account/totp/disable", {"current_password": "nicht-mein-passwort"})
    assert wrong.status_code == 400
    assert enrolled.soup(wrong).select_one("#current_password-error")
    assert database.account(enrolled.account["email"])["totp_enabled_at"] is not None

    done = enrolled.submit("/account/totp/disable", {"current_password": enrolled.account["password"]})
    assert done.status_code == 302
    row = database.account(enrolled.account["email"])
    assert row["totp_enabled_at"] is None and row["totp_secret"] is None
    assert database.rows("SELECT id FROM recovery_code WHERE account_id = :a", a=row["id"]) == []
    assert "account:totp:disable" in database.tags(row["id"])
    smtp.wait_for(enrolled.account["email"], count=2)  # switched on, switched off

    browser = _fresh_browser(app)
    response = sign_in(browser, enrolled.account["email"], enrolled.account["password"])
    assert response.headers["Location"] == "/account"


def test_switching_totp_off_without_csrf_token_changes_nothing(enrolled, database):
    response = enrolled.post("/account/totp/disable", data={"current_password": enrolled.account["password"]})
    assert response.status_code == 400
    assert database.account(enrolled.account["email"])["totp_enabled_at"] is not None


def test_sign_out_then_sign_in_again_needs_a_new_code(enrolled, totp_clock):
    sign_out(enrolled)
    _password_step(enrolled, enrolled.account)
    assert enrolled.get("/account").status_code == 302


def test_a_password_step_older_than_five_minutes_must_be_repeated(enrolled, app, totp_clock):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    browser = _fresh_browser(app)
    _password_step(browser, enrolled.account)
    with app.app_context():
        # The browser's session: the one holding the pending second factor.
        for record in WebSession.query.filter(WebSession.ended_at.is_(None)).all():
            pending = (record.data or {}).get("pending_second_factor")
            if pending:
                record.data = {**record.data, "pending_second_factor": {**pending, "at": pending["at"] - 301}}
        db.session.commit()
        db.session.remove()
    totp_clock.now += 30
    response = _code_step_raw(browser, code_at(enrolled.secret, totp_clock.now))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert browser.get("/account").status_code == 302


def _code_step_raw(browser, code):
    """Post a code without fetching the form first (the page itself redirects once expired)."""
    token = browser.csrf_token("/sign-in")
    return browser.post("/sign-in/second-factor", data={"csrf_token": token, "code": code})
