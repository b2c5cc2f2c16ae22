"""Password reset by e-mail: a single-use link valid one hour; no TOTP bypass; all sessions end."""

import time

import pytest
from itsdangerous.timed import TimestampSigner

from support.browser import Browser
from support.statements import recorded_statements

from .conftest import code_at, enrol_totp, register, sign_in

NEW_PASSWORD = "Neues-Passwort-nach-Reset-7"


def _ask_for_link(browser, smtp, email, count=1):
    response = browser.submit("/forgot-password", {"email": email})
    assert response.status_code == 200
    return smtp.link(email, "/reset-password/", count)


def _reset(browser, link, password=NEW_PASSWORD, repeat=None):
    page = browser.get(link)
    assert page.status_code == 200, page.status_code
    return browser.submit_page(page, {"password": password,
                                      "password_repeat": password if repeat is None else repeat})


def test_reset_by_mailed_link_sets_the_new_password(browser, smtp, make_account, database):
    account = make_account()
    link = _ask_for_link(browser, smtp, account["email"])
    response = _reset(browser, link)
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    assert sign_in(browser, account["email"], account["password"]).status_code == 401
    assert sign_in(browser, account["email"], NEW_PASSWORD).status_code == 302
    tags = database.tags(account["id"])
    assert "account:password:reset_requested" in tags and "account:password:reset" in tags


def test_reset_link_works_once(browser, smtp, make_account):
    account = make_account()
    link = _ask_for_link(browser, smtp, account["email"])
    assert _reset(browser, link).status_code == 302
    used = browser.get(link)
    assert used.status_code == 400
    assert "bereits verwendet" in used.get_data(as_text=True)
    # A forged post to the used link changes nothing either.
    token = browser.csrf_token("/forgot-password")
    again = browser.post(link, data={"csrf_token": token, "password": "Noch-ein-Versuch-99",
                                     "password_repeat": "Noch-ein-Versuch-99"})
    assert again.status_code == 400
    assert sign_in(browser, account["email"], NEW_PASSWORD).status_code == 302


def test_using_one_reset_link_voids_the_other_outstanding_ones(browser, smtp, make_account):
    account = make_account()
    first = _ask_for_link(browser, smtp, account["email"], 1)
    second = _ask_for_link(browser, smtp, account["email"], 2)
    assert _reset(browser, second).status_code == 302
    assert browser.get(first).status_code == 400


def test_reset_link_expires_after_one_hour(browser, smtp, make_account, monkeypatch):
    account = make_account()
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3601)
        link = _ask_for_link(browser, smtp, account["email"])
    response = browser.get(link)
    assert response.status_code == 410
    assert "abgelaufen" in response.get_data(as_text=True)
    assert sign_in(browser, account["email"], account["password"]).status_code == 302


def test_reset_link_still_works_just_before_one_hour(browser, smtp, make_account, monkeypatch):
    account = make_account()
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3540)
        link = _ask_for_link(browser, smtp, account["email"])
    assert _reset(browser, link).status_code == 302


def test_reset_link_in_the_old_mailbox_dies_when_the_address_changes(app, browser, smtp, make_account, database):
    # The citizen moves the account away from a mailbox someone else can read: a reset link
    # lying there must not take the account back.
    account = make_account()
    link = _ask_for_link(browser, smtp, account["email"])
    owner = Browser(app.test_client())
    assert sign_in(owner, account["email"], account["password"]).status_code == 302
    owner.submit("/account/email", {"new_email": "umgezogen@example.org", "current_password": account["password"]})
    assert owner.get(smtp.link("umgezogen@example.org", "/account/email/confirm/")).status_code == 302
    assert database.account("umgezogen@example.org") is not None

    assert browser.get(link).status_code == 400
    assert sign_in(Browser(app.test_client()), "umgezogen@example.org", account["password"]).status_code == 302


def test_reset_refuses_a_bad_new_password_and_keeps_the_link_usable(browser, smtp, make_account):
    account = make_account()
    link = _ask_for_link(browser, smtp, account["email"])
    for password, repeat in (("kurz", None), ("password123", None), (NEW_PASSWORD, "anders-als-oben-1")):
        response = _reset(browser, link, password, repeat)
        assert response.status_code == 400
        assert browser.soup(response).select_one(".error-summary")
    assert sign_in(browser, account["email"], account["password"]).status_code == 302
    assert _reset(browser, link).status_code == 302


def test_reset_does_not_bypass_totp(app, signed_in, smtp, totp_clock):
    secret, _codes = enrol_totp(signed_in, totp_clock)
    email = signed_in.account["email"]
    other = Browser(app.test_client())
    link = _ask_for_link(other, smtp, email)
    assert _reset(other, link).status_code == 302
    # The reset did not sign anyone in ...
    assert other.get("/account").status_code == 302
    # ... and signing in with the new password still asks for the code.
    response = sign_in(other, email, NEW_PASSWORD)
    assert response.headers["Location"] == "/sign-in/second-factor"
    assert other.get("/account").status_code == 302
    totp_clock.now += 30
    assert other.submit("/sign-in/second-factor", {"code": code_at(secret, totp_clock.now)}).status_code == 302


def test_reset_ends_all_sessions(app, smtp, make_account, database):
    account = make_account()
    laptop, phone, stranger = (Browser(app.test_client()) for _ in range(3))
    assert sign_in(laptop, account["email"], account["password"]).status_code == 302
    assert sign_in(phone, account["email"], account["password"]).status_code == 302
    link = _ask_for_link(stranger, smtp, account["email"])
    assert _reset(stranger, link).status_code == 302
    for browser in (laptop, phone):
        assert browser.get("/account").status_code == 302
    live = database.rows("SELECT id FROM web_session WHERE account_id = :a AND ended_at IS NULL", a=account["id"])
    assert live == []


def test_reset_of_an_unconfirmed_account_confirms_the_address(browser, smtp, database):
    register(browser, "vergessen@example.org")
    link = _ask_for_link(browser, smtp, "vergessen@example.org")
    assert _reset(browser, link).status_code == 302
    assert database.account("vergessen@example.org")["email_verified_at"] is not None
    assert sign_in(browser, "vergessen@example.org", NEW_PASSWORD).status_code == 302


def test_forgot_password_answers_the_same_for_known_and_unknown(browser, smtp, make_account):
    account = make_account()
    answers = []
    for address in (account["email"], "unbekannt@example.org"):
        response = browser.submit("/forgot-password", {"email": address})
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert answers[0] == answers[1]
    smtp.wait_for(account["email"])
    smtp.settle()
    assert smtp.to("unbekannt@example.org") == []


@pytest.mark.parametrize("path, unverified", [("/forgot-password", False), ("/confirm-email/resend", True)])
def test_one_address_gets_five_asked_for_mails_then_waits(app, browser, smtp, make_account, path, unverified):
    # Limits per client address alone let one person, from many addresses, fill a citizen's
    # mailbox: the address itself is rationed, with the same answer whether a mail goes or not.
    account = make_account(**({"email_verified_at": None} if unverified else {}))
    answers = set()
    for _ in range(8):
        response = browser.post(path, data={"csrf_token": browser.csrf_token("/forgot-password"),
                                            "email": account["email"]})
        answers.add((response.status_code, response.get_data(as_text=True)))
    assert len(answers) == 1
    smtp.wait_for(account["email"], 5)
    smtp.settle()
    assert len(smtp.to(account["email"])) == 5
    from buergerkonto.idp.models import Event

    with app.app_context():  # (the operator sees the rationed requests)
        if path == "/forgot-password":
            assert Event.query.filter_by(tag="account:password:reset_rationed").count() == 3


@pytest.mark.parametrize("path, unverified", [("/forgot-password", False), ("/confirm-email/resend", True)])
def test_known_and_unknown_addresses_cost_the_same_statements_but_the_mail(app, browser, smtp, make_account,
                                                                        path, unverified):
    # No timing difference worth measuring: the same statements either way, but the outbox row.
    account = make_account(**({"email_verified_at": None} if unverified else {}))
    counts = []
    for address in (account["email"], "unbekannt@example.org"):
        token = browser.csrf_token("/forgot-password")
        # (only this thread's: not the courier delivering the mail meanwhile)
        with recorded_statements(app, this_thread_only=True) as recorded:
            assert browser.post(path, data={"csrf_token": token, "email": address}).status_code == 200
        statements = [statement.sql.split()[0:3] for statement in recorded]
        counts.append([s for s in statements if s[:3] != ["INSERT", "INTO", "mail_outbox"]])
    assert counts[0] == counts[1], counts
    smtp.wait_for(account["email"])


@pytest.mark.parametrize("token", ["x", "A" * 2000, "eyJhIjoiMSJ9.AAAA.BBBB", "%00", "..%2F..%2Fetc"])
def test_forged_reset_tokens_get_a_clear_4xx(browser, token):
    response = browser.get(f"/reset-password/{token}")
    assert 400 <= response.status_code < 500
    html = response.get_data(as_text=True)
    assert "<form" not in html or "password_repeat" not in html
