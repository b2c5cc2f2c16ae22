"""Every page of the identity check, the citizen's and the counter's, passes the structural
accessibility checks (labels, one h1, lang, tables with headers and captions, errors tied to
fields), in its normal and its error states, and speaks German by default."""

import re

import pytest
from flask import template_rendered
from flask_babel import force_locale, gettext
from trust_levels.helpers import (FORM, PERSON, confirm_check, document, look_up, request_check,
                                  staff_password_set, staff_password_step)

from buergerkonto.trust_levels.models import Verification
from support.a11y import check_page
from support.plugin import sign_in


@pytest.mark.parametrize("lang", ["de", "en"])
def test_citizen_identity_pages(citizen, lang):
    citizen.get(f"/account?lang={lang}")
    soup = check_page(citizen.get("/account/identity"), 200)
    assert soup.html["lang"] == lang
    assert soup.h1.get_text(strip=True) == {"de": "Identität im Bürgerbüro bestätigen lassen",
                                            "en": "Have your identity confirmed at the Bürgerbüro"}[lang]
    legends = [legend.get_text(strip=True) for legend in soup.select("form legend")]
    assert legends == {"de": ["Wie in Ihrem Ausweisdokument", "Anschrift"],
                       "en": ["As on your ID card", "Address"]}[lang]

    errors = citizen.submit("/account/identity", {**PERSON, "given_name": "", "postal_code": "123",
                                                  "birthdate": "2999-01-01"}, selector=FORM)
    soup = check_page(errors, 400)
    assert {field["id"] for field in soup.find_all(attrs={"aria-invalid": "true"})} == {
        "given_name", "postal_code", "birthdate"}

    code = request_check(citizen)
    soup = check_page(citizen.get("/account/identity"), 200)
    qr = soup.select_one(".qr")
    assert qr.get("role") == "img" and qr.get("aria-label")
    check_page(citizen.get("/account"), 200)

    soup = check_page(citizen.get("/account/identity/cancel"), 200)
    assert soup.html["lang"] == lang
    with citizen.client.application.test_request_context(), force_locale(lang):
        assert soup.h1.get_text(strip=True) == gettext("Withdraw the check code?")
        assert soup.main.p.get_text(strip=True) == gettext(
            "The check code %(code)s will no longer be valid; you can request a new one at any time.", code=code)
        assert [c.get_text(strip=True) for c in soup.select("main form button, main form a")] == [
            gettext("Withdraw"), gettext("Cancel")]


def test_citizen_sees_confirmed_identity(app, citizen, office, make_staff):
    staff = make_staff(office["id"])
    assert confirm_check(staff, request_check(citizen)).status_code == 200
    soup = check_page(citizen.get("/account/identity"), 200)
    assert soup.select_one("#confirmed-h").get_text(strip=True) == "Ihre Identität ist bestätigt"
    soup = check_page(citizen.get("/account"), 200)
    section = soup.find("section", attrs={"aria-labelledby": "identity-h"}).get_text(" ", strip=True)
    assert "Bestätigt durch: Bürgerbüro Leer" in section


def test_staff_set_up_and_sign_in_pages(cli_json, office, new_browser):
    created = cli_json("staff", "create", "--email", "neu@leer.example", "--office", str(office["id"]),
                       "--role", "verifier")
    browser = new_browser()
    soup = check_page(browser.get(created["setup_url"]), 200)
    assert soup.html["lang"] == "de" and soup.h1.get_text(strip=True) == "Passwort festlegen"
    check_page(browser.submit(created["setup_url"], {"password": "kurz", "password_repeat": "anders"}), 400)
    check_page(browser.get("/staff/setup/not-a-token"), 400)
    staff_password_set(browser, created["setup_url"])

    soup = check_page(browser.get("/staff"), 200)
    assert soup.h1.get_text(strip=True) == "Anmeldung für Mitarbeitende des Bürgerbüros"
    check_page(browser.submit("/staff", {"email": "neu@leer.example", "password": "falsch"}), 401)
    assert staff_password_step(browser, "neu@leer.example").headers["Location"].endswith("/staff/totp-setup")
    soup = check_page(browser.get("/staff/totp-setup"), 200)
    qr = soup.select_one(".qr")
    assert qr.get("role") == "img" and qr.get("aria-label")
    check_page(browser.submit("/staff/totp-setup", {"code": "000000"}), 400)


def test_staff_second_factor_page(office, make_staff, new_browser):
    staff = make_staff(office["id"])
    browser = new_browser()
    assert staff_password_step(browser, staff.email).headers["Location"].endswith("/staff/second-factor")
    check_page(browser.get("/staff/second-factor"), 200)
    check_page(browser.submit("/staff/second-factor", {"code": "000000"}), 401)


def test_staff_counter_pages(app, citizen, office, make_staff):
    staff = make_staff(office["id"])
    soup = check_page(staff.get("/staff/home"), 200)
    nav = soup.find("nav", attrs={"aria-label": "Bürgerbüro"})
    assert [a.get_text(strip=True) for a in nav.find_all("a")] == ["Prüfcode abfragen", "Identitätsprüfungen",
                                                                   "Prüfprotokoll"]
    check_page(staff.submit("/staff/home", {"check_code": ""}, selector=FORM), 400)

    response = look_up(staff, request_check(citizen))
    check_url = response.headers["Location"]
    soup = check_page(staff.get(check_url), 200)
    document_types = soup.select_one("#document_type").find_parent("fieldset")
    assert document_types.legend.get_text(strip=True) == "Art des Dokuments"
    assert [label.get_text(strip=True) for label in document_types.select("label")] == [
        "Personalausweis", "Reisepass", "eAT (elektronischer Aufenthaltstitel)"]
    errors = staff.submit(check_url, {"document_country": "DE", "document_number": "x",
                                      "document_expires_on": "", "compared": ""}, selector=FORM)
    soup = check_page(errors, 400)
    assert {"document_country", "document_number", "document_expires_on", "compared"} <= {
        field["id"] for field in soup.find_all(attrs={"aria-invalid": "true"})}
    # The radio group carries its error; the summary leads to its first radio.
    document_types = soup.select_one("#document_type").find_parent("fieldset")
    assert document_types["aria-describedby"] == "document_type-error"
    assert soup.select_one(".error-summary a[href='#document_type']") is not None

    confirmed = staff.submit(check_url, document(), selector=FORM)
    soup = check_page(confirmed, 200)
    assert soup.h1.get_text(strip=True) == "Identität bestätigt"

    soup = check_page(staff.get("/staff/verifications"), 200)
    table = soup.find("table")
    assert table.caption.get_text(strip=True) == "Identitätsprüfungen dieses Bürgerbüros"
    soup = check_page(staff.get("/staff/audit"), 200)
    headers = [th.get_text(strip=True) for th in soup.find("table").find_all("th")]
    assert headers == ["Nr.", "Zeitpunkt", "Kennung Mitarbeitende", "Aktion", "Kontokennung", "Vorgang"]
    actions = {row.find_all("td")[3].get_text(strip=True) for row in soup.find("table").tbody.find_all("tr")}
    assert {"Abfrage", "angesehen", "bestätigt"} <= actions


def test_german_document_names_are_marked_german_on_english_pages(app, citizen, office, make_staff):
    """"Personalausweis" stays German on an English page (it is what the card says) and says so (WCAG 3.1.2):
    a radio's label can mark just those words, which an <option> could not."""
    staff = make_staff(office["id"])
    staff.get("/staff/home?lang=en")
    check_url = look_up(staff, request_check(citizen)).headers["Location"]
    soup = check_page(staff.get(check_url), 200)
    document_types = soup.select_one("#document_type").find_parent("fieldset")
    assert [(" ".join(label.get_text().split()), [words.get_text() for words in label.select("[lang=de]")])
            for label in document_types.select("label")] == [
        ("Personalausweis (ID card)", ["Personalausweis"]), ("Reisepass (passport)", ["Reisepass"]),
        ("Elektronischer Aufenthaltstitel (eAT)", ["Elektronischer Aufenthaltstitel (eAT)"])]

    assert staff.submit(check_url, document(doc_type="passport"), selector=FORM).status_code == 200
    with app.app_context():
        public_id = Verification.query.one().public_id
    soup = check_page(staff.get(f"/staff/verifications/{public_id}"), 200)
    assert [words.get_text() for words in soup.main.select("[lang=de]")] == ["Reisepass"]


def _one_held_one_confirmed(app, staff, make_account, new_browser):
    """Two citizens show the same document: the first check is confirmed, the second held.
    Returns the answer to the second confirmation and the public ids of the held and the confirmed one."""
    codes = []
    for _ in range(2):
        account = make_account()
        browser = new_browser()
        sign_in(browser, account["email"], account["password"])
        codes.append(request_check(browser))
    assert confirm_check(staff, codes[0], number="T22000129").status_code == 200
    held = confirm_check(staff, codes[1], number="T22000129")
    with app.app_context():
        held_id = Verification.query.filter_by(status="held").one().public_id
        confirmed_id = Verification.query.filter_by(status="confirmed").one().public_id
    return held, held_id, confirmed_id


def test_office_admin_pages_for_held_and_confirmed_verifications(app, office, make_staff, make_account,
                                                                 new_browser):
    held, held_id, confirmed_id = _one_held_one_confirmed(app, make_staff(office["id"]), make_account, new_browser)
    soup = check_page(held, 200)
    assert soup.h1.get_text(strip=True) == "Zur Klärung zurückgestellt"

    admin = make_staff(office["id"], role="office-admin")
    soup = check_page(admin.get("/staff/home"), 200)
    assert soup.select_one("#held-h") is not None
    soup = check_page(admin.get(f"/staff/verifications/{held_id}"), 200)
    assert soup.select_one("form[action$='/decide'] select#decision") is not None
    check_page(admin.submit(f"/staff/verifications/{held_id}", {"decision": ""},
                            selector="form[action$='/decide']"), 400)
    check_page(admin.get(f"/staff/verifications/{confirmed_id}"), 200)
    check_page(admin.submit(f"/staff/verifications/{confirmed_id}", {"reason": "zu kurz"},
                            selector="form[action$='/revoke']"), 400)
    soup = check_page(admin.get("/staff/audit"), 200)
    assert soup.select_one("form[action='/staff/audit.csv'] button").get_text(strip=True) == "Als CSV exportieren"


def test_a_failed_decision_or_revocation_heads_the_page_with_its_errors(app, office, make_staff, make_account,
                                                                         new_browser):
    """The error summary sits under the h1 (not as a second h2 inside the form's section), and the view hands
    both forms to the layout as ``error_forms``, whose errors make the title begin with "Fehler:"."""
    held, held_id, confirmed_id = _one_held_one_confirmed(app, make_staff(office["id"]), make_account, new_browser)
    assert held.status_code == 200
    admin = make_staff(office["id"], role="office-admin")
    failures = [(held_id, {"decision": ""}, "decide", "decision_form"),
                (confirmed_id, {"reason": "zu kurz"}, "revoke", "revoke_form")]
    for public_id, data, action, failed in failures:
        contexts = []

        def remember(sender, template, context, **extra):
            contexts.append(context)

        with template_rendered.connected_to(remember, app):
            response = admin.submit(f"/staff/verifications/{public_id}", data, selector=f"form[action$='/{action}']")
        soup = check_page(response, 400)
        assert soup.title.get_text(strip=True).startswith("Fehler: Identitätsprüfung")
        headings = [h.name for h in soup.main.find_all(re.compile("^h[1-6]$"))]
        assert headings == ["h1", "h2", "h2"], headings
        summary = soup.select_one(".error-summary")
        assert summary.find_parent("section") is None and summary.find_previous(re.compile("^h[1-6]$")).name == "h1"
        context = contexts[-1]
        assert context[failed].errors and context[failed] in context["error_forms"]
        assert {id(form) for form in context["error_forms"]} == {id(context["decision_form"]),
                                                                  id(context["revoke_form"])}


def test_staff_refusal_pages(app, citizen, office, make_staff, make_account, new_browser):
    soup = check_page(citizen.get("/staff"), 403)
    assert soup.h1.get_text(strip=True) == "Bereich für Mitarbeitende"
    staff = make_staff(office["id"])
    own = make_account(email=staff.email)
    browser = new_browser()
    sign_in(browser, own["email"], own["password"])
    response = look_up(staff, request_check(browser))
    soup = check_page(staff.get(response.headers["Location"]), 403)
    assert soup.h1.get_text(strip=True) == "Nicht möglich"
    assert "Kollegin oder einen Kollegen" in soup.find(attrs={"role": "alert"}).get_text()


def test_staff_page_opened_from_another_site(citizen, office, make_staff):
    staff = make_staff(office["id"])
    soup = check_page(staff.get("/staff/verifications", headers={"Sec-Fetch-Site": "cross-site"}), 200)
    assert soup.h1.get_text(strip=True) == "Von einer anderen Website aus geöffnet"
    assert soup.find("a", string="Seite öffnen")["href"] == "/staff/verifications"
