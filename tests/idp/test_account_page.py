"""The citizen's account page: profile, password, e-mail, sessions, export, deletion."""

import json

import pytest
import sqlalchemy as sa

from support.browser import Browser

from .conftest import sign_in

NEW_PASSWORD = "Ganz-neues-Passwort-2026"


def _browser(app):
    return Browser(app.test_client())


def _second_device(app, account):
    other = _browser(app)
    assert sign_in(other, account["email"], account["password"]).status_code == 302
    return other


def test_overview_shows_the_profile(signed_in):
    page = signed_in.get("/account")
    assert page.status_code == 200
    assert signed_in.account["email"] in page.get_data(as_text=True)


def test_account_pages_need_sign_in_and_come_back_after(app, make_account):
    browser = _browser(app)
    response = browser.get("/account/email")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/account/email")
    account = make_account()
    page = browser.follow(response)
    signed = browser.submit_page(page, {"email": account["email"], "password": account["password"]})
    assert signed.headers["Location"] == "/account/email"


def test_profile_is_saved(signed_in, database):
    response = signed_in.submit("/account/profile", {
        "name": "Erika Mustermann", "given_name": "Erika", "family_name": "Mustermann",
        "phone_number": "+49 491 12345", "street_address": "Rathausstraße 1", "postal_code": "26789",
        "locality": "Leer"})
    assert response.status_code == 302
    row = database.account(signed_in.account["email"])
    assert row["name"] == "Erika Mustermann" and row["family_name"] == "Mustermann"
    address = row["address"] if isinstance(row["address"], dict) else json.loads(row["address"])
    assert address["locality"] == "Leer" and address["country"] == "DE"
    assert "Erika Mustermann" in signed_in.get("/account").get_data(as_text=True)
    assert "account:profile:update" in database.tags(row["id"])


@pytest.mark.parametrize("field, value", [("name", "N" * 201), ("postal_code", "1" * 11),
                                          ("phone_number", "0" * 41), ("locality", "L" * 101)])
def test_overlong_profile_fields_are_refused_next_to_the_field(signed_in, database, field, value):
    before = database.account(signed_in.account["email"])
    response = signed_in.submit("/account/profile", {field: value})
    assert response.status_code == 400
    assert signed_in.soup(response).select_one(f"#{field}-error")
    assert database.account(signed_in.account["email"]) == before


def test_change_password_needs_the_current_one(signed_in, database):
    before = database.account(signed_in.account["email"])["password_hash"]
    response = signed_in.submit("/account/password", {"current_password": "falsch-geraten-1",
                                                      "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
    assert response.status_code == 400
    assert signed_in.soup(response).select_one("#current_password-error")
    assert database.account(signed_in.account["email"])["password_hash"] == before
    assert "account:reauth:failure" in database.tags(signed_in.account["id"])


def test_change_password_ends_the_other_sessions_but_not_this_one(app, signed_in, database, smtp):
    phone = _second_device(app, signed_in.account)
    response = signed_in.submit("/account/password", {"current_password": signed_in.account["password"],
                                                      "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
    assert response.status_code == 302
    assert signed_in.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    assert "account:password:change" in database.tags(signed_in.account["id"])
    assert "passwort" in smtp.wait_for(signed_in.account["email"])["Subject"].lower()
    fresh = _browser(app)
    assert sign_in(fresh, signed_in.account["email"], signed_in.account["password"]).status_code == 401
    assert sign_in(fresh, signed_in.account["email"], NEW_PASSWORD).status_code == 302


def test_change_password_applies_the_policy(signed_in):
    response = signed_in.submit("/account/password", {"current_password": signed_in.account["password"],
                                                      "password": "password1", "password_repeat": "password1"})
    assert response.status_code == 400
    assert signed_in.soup(response).select_one("#password-error")


def test_change_email_is_confirmed_by_the_new_address_before_it_counts(app, signed_in, smtp, database):
    old = signed_in.account["email"]
    response = signed_in.submit("/account/email", {"new_email": "Neue.Adresse@Example.org",
                                                   "current_password": signed_in.account["password"]})
    assert response.status_code == 302
    # Not yet: the old address still counts.
    assert database.account(old) is not None
    assert database.account("neue.adresse@example.org") is None
    link = smtp.link("neue.adresse@example.org", "/account/email/confirm/")

    assert signed_in.get(link).status_code == 302
    row = database.account("neue.adresse@example.org")
    assert row is not None and row["id"] == signed_in.account["id"]
    assert row["email_verified_at"] is not None
    assert "account:email:change" in database.tags(row["id"])
    # The old address is told.
    notice = smtp.wait_for(old)
    assert "geändert" in notice["Subject"].lower()
    # The new address signs in, the old one no longer does.
    fresh = _browser(app)
    assert sign_in(fresh, old, signed_in.account["password"]).status_code == 401
    assert sign_in(fresh, "neue.adresse@example.org", signed_in.account["password"]).status_code == 302
    # The link worked once.
    assert signed_in.get(link).status_code == 400


@pytest.mark.parametrize("how", ["reset", "change"])
def test_a_pending_email_change_link_dies_with_a_new_password(app, make_account, smtp, database, how):
    # Whoever knew the password asks to move the account to their address; the owner notices and
    # sets a new password. The link in the intruder's mailbox must not take the account after all.
    owner = make_account()
    intruder = _browser(app)
    assert sign_in(intruder, owner["email"], owner["password"]).status_code == 302
    assert intruder.submit("/account/email", {"new_email": "eindringling@example.net",
                                              "current_password": owner["password"]}).status_code == 302
    link = smtp.link("eindringling@example.net", "/account/email/confirm/")

    browser = _browser(app)
    if how == "reset":
        assert browser.submit("/forgot-password", {"email": owner["email"]}).status_code == 200
        page = browser.get(smtp.link(owner["email"], "/reset-password/"))
        browser.submit_page(page, {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
    else:
        assert sign_in(browser, owner["email"], owner["password"]).status_code == 302
        assert browser.submit("/account/password", {"current_password": owner["password"], "password": NEW_PASSWORD,
                                                    "password_repeat": NEW_PASSWORD}).status_code == 302
    assert sign_in(_browser(app), owner["email"], NEW_PASSWORD).status_code == 302

    assert _browser(app).get(link).status_code == 400
    assert database.account(owner["email"]) is not None
    assert database.account("eindringling@example.net") is None


def test_change_email_needs_the_password(signed_in, smtp, database):
    response = signed_in.submit("/account/email", {"new_email": "anders@example.org",
                                                   "current_password": "nicht-das-passwort"})
    assert response.status_code == 400
    assert signed_in.soup(response).select_one("#current_password-error")
    smtp.settle()
    assert smtp.to("anders@example.org") == []


def test_change_email_to_a_taken_address_answers_the_same_and_changes_nothing(signed_in, smtp, make_account,
                                                                           database):
    taken = make_account(email="vergeben@example.org")
    answers = []
    for address in ("vergeben@example.org", "noch-frei@example.org"):
        response = signed_in.submit("/account/email", {"new_email": address,
                                                       "current_password": signed_in.account["password"]})
        page = signed_in.follow(response)
        flashes = signed_in.soup(page).select_one(".flashes").get_text(" ", strip=True)
        answers.append((response.status_code, response.headers["Location"], flashes.replace(address, "ADDRESS")))
    assert answers[0] == answers[1]
    smtp.wait_for("noch-frei@example.org")
    smtp.settle()
    assert smtp.to(taken["email"]) == []
    assert database.account(signed_in.account["email"]) is not None


def test_sessions_are_listed_and_one_can_be_ended(app, signed_in, database):
    phone = _second_device(app, signed_in.account)
    page = signed_in.get("/account")
    rows = signed_in.soup(page).select("tr:has(form[action^='/account/sessions/'][action$='/end'])")
    assert len(rows) == 2
    # The list marks this browser's session; end the other one.
    other = [row for row in rows if not row.select_one(".badge")]
    assert len(other) == 1
    action = other[0].select_one("form")["action"]
    response = signed_in.submit_page(page, {}, selector=f"form[action='{action}']")
    assert response.status_code == 302
    assert phone.get("/account").status_code == 302
    assert signed_in.get("/account").status_code == 200
    assert "account:session:end" in database.tags(signed_in.account["id"])


WINDOWS_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Safari/537.36")


@pytest.mark.parametrize("lang, chrome, edge, unknown", [
    ("de", "Chrome unter Windows", "Edge unter Windows", "Unbekanntes Gerät"),
    ("en", "Chrome on Windows", "Edge on Windows", "Unknown device"),
])
def test_sessions_name_their_device_in_words(app, make_account, lang, chrome, edge, unknown):
    # Chrome and Edge on Windows share the first 60 characters of their User-Agent: the list
    # must tell them apart, in the citizen's words.
    account = make_account()
    browsers = []
    for user_agent in (WINDOWS_CHROME, WINDOWS_CHROME + " Edg/120.0.0.0", None):
        browser = _browser(app)
        if user_agent:
            browser.client.environ_base["HTTP_USER_AGENT"] = user_agent
        assert sign_in(browser, account["email"], account["password"]).status_code == 302
        browsers.append(browser)
    page = browsers[0].get(f"/account?lang={lang}")
    devices = [row.select_one("td").get_text(" ", strip=True)
               for row in browsers[0].soup(page).select("tbody tr:has(form[action$='/end'])")]
    this = {"de": "diese Sitzung", "en": "this session"}[lang]
    assert sorted(devices) == sorted([f"{chrome} {this}", edge, unknown])
    # Each row's button says which session it ends (to screen readers; the visible text is the same).
    buttons = [button.get_text(" ", strip=True) for button in browsers[0].soup(page).select(
        "tbody form[action$='/end'] button")]
    assert len(set(buttons)) == 3 and all(edge in b or chrome in b or unknown in b for b in buttons)


def test_ending_this_session_signs_out_here(signed_in, database):
    page = signed_in.get("/account")
    row = database.rows("SELECT sid FROM web_session WHERE account_id = :a AND ended_at IS NULL",
                        a=signed_in.account["id"])[0]
    response = signed_in.submit_page(page, {}, selector=f"form[action='/account/sessions/{row['sid']}/end']")
    assert response.status_code == 302
    assert signed_in.get("/account").status_code == 302


def test_a_session_of_another_account_cannot_be_ended(app, signed_in, make_account, database):
    victim = make_account()
    victim_browser = _second_device(app, victim)
    sid = database.rows("SELECT sid FROM web_session WHERE account_id = :a AND ended_at IS NULL",
                        a=victim["id"])[0]["sid"]
    token = signed_in.csrf_token("/account")
    signed_in.post(f"/account/sessions/{sid}/end", data={"csrf_token": token})
    assert victim_browser.get("/account").status_code == 200


def test_sign_out_everywhere(app, signed_in, database):
    phone = _second_device(app, signed_in.account)
    page = signed_in.get("/account")
    response = signed_in.submit_page(page, {}, selector="form[action='/account/sessions/end-all']")
    assert response.status_code == 302
    assert signed_in.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302
    assert database.rows("SELECT id FROM web_session WHERE account_id = :a AND ended_at IS NULL",
                         a=signed_in.account["id"]) == []


def test_export_contains_the_citizens_data(signed_in, database):
    signed_in.submit("/account/profile", {"name": "Export Erika", "locality": "Moormerland"})
    response = signed_in.get("/account/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    row = database.account(signed_in.account["email"])
    assert data["account"]["id"] == row["uuid"]
    assert data["account"]["email"] == signed_in.account["email"]
    assert data["account"]["name"] == "Export Erika"
    assert data["account"]["address"]["locality"] == "Moormerland"
    assert data["sessions"] and all("created_at" in s for s in data["sessions"])
    tags = [e["tag"] for e in data["security_events"]]
    assert "account:login:success" in tags and "account:profile:update" in tags
    # Secrets are not part of the export.
    text = json.dumps(data)
    assert row["password_hash"] not in text


def test_delete_needs_password_and_confirmation(signed_in, database):
    no_confirm = signed_in.submit("/account/delete", {"current_password": signed_in.account["password"]})
    assert no_confirm.status_code == 400
    assert signed_in.soup(no_confirm).select_one("#confirm-error")
    wrong = signed_in.submit("/account/delete", {"current_password": "falsch-falsch-1", "confirm": "y"})
    assert wrong.status_code == 400
    assert database.account(signed_in.account["email"]) is not None


def _all_text_in_database(app) -> str:
    from buergerkonto.idp.extensions import db

    with app.app_context():
        chunks = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)):
                chunks.append(" ".join(str(value) for value in row))
        db.session.remove()
    return "\n".join(chunks)


def test_delete_removes_personal_data_and_keeps_bare_events(app, smtp, database):
    email = "loeschen.lena@example.org"
    browser = _browser(app)
    from .conftest import register

    register(browser, email, name="Lena Löschmich")
    browser.get(smtp.link(email, "/confirm-email/"))
    account_id = database.account(email)["id"]
    assert sign_in(browser, email, "Lange-Passphrase-2026").status_code == 302
    browser.submit("/account/profile", {"name": "Lena Löschmich", "phone_number": "+49 491 999888",
                                        "street_address": "Geheimweg 7"})
    browser.submit("/account/password", {"current_password": "falsch-1234", "password": NEW_PASSWORD,
                                         "password_repeat": NEW_PASSWORD})

    response = browser.submit("/account/delete", {"current_password": "Lange-Passphrase-2026", "confirm": "y"})
    assert response.status_code == 200
    assert database.account(email) is None
    assert browser.get("/account").status_code == 302

    everything = _all_text_in_database(app)
    for personal in (email, "Lena Löschmich", "+49 491 999888", "Geheimweg 7"):
        assert personal not in everything, personal
    events = database.events(account_id)
    assert events and events[-1]["tag"] == "account:delete"
    for event in events:
        assert event["ip_address"] is None and event["details"] is None, event
    sessions = database.rows("SELECT * FROM web_session WHERE account_id = :a", a=account_id)
    assert sessions == []
    assert sign_in(_browser(app), email, "Lange-Passphrase-2026").status_code == 401


def test_change_email_link_expires_after_24_hours(signed_in, smtp, database, monkeypatch):
    import time

    from itsdangerous.timed import TimestampSigner

    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 24 * 3600 - 1)
        signed_in.submit("/account/email", {"new_email": "spaet@example.org",
                                            "current_password": signed_in.account["password"]})
    response = signed_in.get(smtp.link("spaet@example.org", "/account/email/confirm/"))
    assert response.status_code == 410
    assert database.account("spaet@example.org") is None
    assert database.account(signed_in.account["email"]) is not None
