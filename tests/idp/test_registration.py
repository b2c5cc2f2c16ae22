"""Self-registration with a confirmed e-mail address, through a real SMTP server."""

import time

import pytest
from itsdangerous.timed import TimestampSigner

from .conftest import PASSWORD, register, sign_in


def _confirm_link(smtp, address, count=1):
    return smtp.link(address, "/confirm-email/", count)


def test_register_confirm_by_mailed_link_then_sign_in(browser, smtp, database):
    response = register(browser, "neu@example.org", name="Nina Neu")
    assert response.status_code == 302
    assert response.headers["Location"] == "/register/sent"
    assert "neu@example.org" in browser.follow(response).get_data(as_text=True)

    link = _confirm_link(smtp, "neu@example.org")
    assert link.startswith("http://localhost/confirm-email/")
    confirmed = browser.get(link)
    assert confirmed.status_code == 200

    row = database.account("neu@example.org")
    assert row["email_verified_at"] is not None
    assert row["name"] == "Nina Neu"
    assert "account:email:verified" in database.tags(row["id"])

    signed = sign_in(browser, "neu@example.org", PASSWORD)
    assert signed.status_code == 302 and signed.headers["Location"] == "/account"
    assert browser.get("/account").status_code == 200


def test_unconfirmed_account_cannot_sign_in(browser, smtp, database):
    register(browser, "wartend@example.org")
    response = sign_in(browser, "wartend@example.org", PASSWORD)
    assert response.status_code == 403
    assert 'action="/confirm-email/resend"' in response.get_data(as_text=True)
    # Not signed in: the account page still sends the visitor to the sign-in page.
    assert browser.get("/account").status_code == 302
    assert "account:login:success" not in database.tags()


def test_confirmation_link_works_once(browser, smtp, database):
    register(browser, "einmal@example.org")
    link = _confirm_link(smtp, "einmal@example.org")
    assert browser.get(link).status_code == 200
    again = browser.get(link)
    assert again.status_code == 400
    assert "bereits verwendet" in again.get_data(as_text=True)


def test_confirmation_link_expires_after_24_hours(browser, smtp, database, monkeypatch):
    with monkeypatch.context() as patch:
        # The link is signed 24 hours and one second ago.
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 24 * 3600 - 1)
        register(browser, "alt@example.org")
    link = _confirm_link(smtp, "alt@example.org")
    response = browser.get(link)
    assert response.status_code == 410
    assert "abgelaufen" in response.get_data(as_text=True)
    assert database.account("alt@example.org")["email_verified_at"] is None
    assert sign_in(browser, "alt@example.org", PASSWORD).status_code == 403


def test_confirmation_link_still_works_just_before_24_hours(browser, smtp, database, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 24 * 3600 + 60)
        register(browser, "knapp@example.org")
    assert browser.get(_confirm_link(smtp, "knapp@example.org")).status_code == 200
    assert database.account("knapp@example.org")["email_verified_at"] is not None


@pytest.mark.parametrize("mangle", [
    lambda link: link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"),  # altered signature
    lambda link: link.rsplit("/", 1)[0] + "/not-a-token",
    lambda link: link.rsplit("/", 1)[0] + "/" + "A" * 5000,  # overlong
])
def test_forged_confirmation_links_are_refused(browser, smtp, database, mangle):
    register(browser, "gefaelscht@example.org")
    response = browser.get(mangle(_confirm_link(smtp, "gefaelscht@example.org")))
    assert response.status_code in (400, 404)
    assert database.account("gefaelscht@example.org")["email_verified_at"] is None


def test_confirmation_link_for_a_password_reset_is_not_a_confirmation(browser, smtp, database, make_account):
    """Each kind of link has its own key: a reset token does not confirm an address."""
    register(browser, "kreuz@example.org")
    browser.submit("/forgot-password", {"email": "kreuz@example.org"})
    reset = smtp.link("kreuz@example.org", "/reset-password/")
    token = reset.rsplit("/", 1)[1]
    assert browser.get(f"/confirm-email/{token}").status_code == 400
    assert database.account("kreuz@example.org")["email_verified_at"] is None


def test_resend_sends_a_new_working_link(browser, smtp, database):
    register(browser, "nochmal@example.org")
    page = sign_in(browser, "nochmal@example.org", PASSWORD)
    assert page.status_code == 403
    resent = browser.submit_page(page, {})
    assert resent.status_code == 200
    link = _confirm_link(smtp, "nochmal@example.org", 2)
    assert browser.get(link).status_code == 200
    assert sign_in(browser, "nochmal@example.org", PASSWORD).status_code == 302


def test_resend_answers_the_same_for_unknown_confirmed_and_unconfirmed(browser, smtp, make_account):
    confirmed = make_account()
    register(browser, "offen@example.org")
    smtp.clear()
    answers = []
    for address in ("offen@example.org", confirmed["email"], "niemand@example.org"):
        page = browser.get("/confirm-email/not-a-token")
        response = browser.submit_page(page, {"email": address}, selector="form[action='/confirm-email/resend']")
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 200
    # Only the unconfirmed account gets a link.
    smtp.wait_for("offen@example.org")
    smtp.settle()
    assert smtp.to(confirmed["email"]) == [] and smtp.to("niemand@example.org") == []


def test_taken_and_free_addresses_get_the_same_answer(browser, smtp, make_account, database):
    owner = make_account(email="besetzt@example.org")
    answers = []
    for address in ("besetzt@example.org", "frei@example.org"):
        response = register(browser, address, password="Ganz-anderes-Passwort-99")
        page = browser.follow(response)
        text = page.get_data(as_text=True).replace(address, "ADDRESS")
        answers.append((response.status_code, response.headers.get("Location"), page.status_code, text))
    assert answers[0] == answers[1]

    # The owner is told by mail instead; nothing about the account changed.
    notice = smtp.wait_for("besetzt@example.org")
    body = smtp.body(notice)
    assert "/forgot-password" in body and "/confirm-email/" not in body
    assert sign_in(browser, "besetzt@example.org", owner["password"]).status_code == 302
    assert len(database.rows("SELECT id FROM account WHERE email = 'besetzt@example.org'")) == 1
    assert "account:register:duplicate" in database.tags(database.account("besetzt@example.org")["id"])


def test_mixed_case_address_is_the_same_account(browser, smtp, database):
    register(browser, "Anna@EXAMPLE.org")
    assert database.account("anna@example.org") is not None
    link = _confirm_link(smtp, "anna@example.org")
    register(browser, "anna@example.org", password="Zweiter-Versuch-2026")
    assert len(database.rows("SELECT id FROM account")) == 1
    assert browser.get(link).status_code == 200
    # Sign-in with any spelling of the address reaches the one account.
    assert sign_in(browser, "  ANNA@example.ORG ", PASSWORD).status_code == 302


def test_registration_form_refuses_bad_input_next_to_the_field(browser, smtp, database):
    cases = [
        ({"email": "kein-at-zeichen"}, "email"),
        ({"email": "a" * 250 + "@example.org"}, "email"),
        ({"password": "kurz"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": "password123"}, "password"),
        ({"password_repeat": "etwas-anderes-99"}, "password_repeat"),
        ({"name": "N" * 500}, "name"),
    ]
    for change, field in cases:
        data = {"email": "feld@example.org", "name": "", "password": PASSWORD, "password_repeat": PASSWORD}
        data.update(change)
        if "password" in change and "password_repeat" not in change:
            data["password_repeat"] = change["password"]
        response = browser.submit("/register", data)
        assert response.status_code == 400, change
        soup = browser.soup(response)
        assert soup.select_one(f"#{field}-error"), (change, response.get_data(as_text=True)[:2000])
        assert soup.select_one(f"#{field}[aria-invalid=true]")
        assert soup.select_one(".error-summary a[href='#" + field + "']")
    assert database.rows("SELECT id FROM account") == []
    smtp.settle()
    assert smtp.messages == []
