"""The federation's pages and page sections pass the structural accessibility checks, in their
normal and error states, and speak German by default (English on request)."""

import pytest

from support.a11y import check_page
from support.browser import Browser
from support.plugin import sign_in
from support.servers import free_port


@pytest.mark.parametrize("lang, button", [("de", "Mit dem Servicekonto des Landes anmelden"),
                                          ("en", "Sign in with the service account of the Land")])
def test_sign_in_page_with_the_service_account_button(browser, lang, button):
    soup = check_page(browser.get(f"/sign-in?lang={lang}"), 200)
    assert soup.html["lang"] == lang
    assert soup.select_one("#federation-sign-in").get_text(strip=True) == button


def test_sign_in_page_offering_to_sign_out_upstream(browser, federated):
    federated("erika")
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    soup = check_page(browser.get("/sign-in"), 200)
    button = soup.select_one("form[action='/federation/sign-out-upstream'] button")
    assert button.get_text(strip=True) == "Auch beim Servicekonto abmelden"


@pytest.mark.parametrize("lang", ["de", "en"])
def test_first_sign_in_page(browser, federated, lang):
    browser.get(f"/sign-in?lang={lang}")
    federated("lena")  # no confirmed e-mail address: the page says so
    soup = check_page(browser.get("/federation/new"), 200)
    assert soup.html["lang"] == lang
    assert soup.h1.get_text(strip=True) == {"de": "Erste Anmeldung mit dem Servicekonto",
                                            "en": "First sign-in with the service account"}[lang]


def test_link_page_and_its_error_state(signed_in, federated):
    federated("otto")
    soup = check_page(signed_in.get("/federation/link"), 200)
    assert soup.find("label", attrs={"for": "current_password"}).get_text(strip=True) == "Passwort Ihres Bürgerkontos"
    wrong = signed_in.submit("/federation/link", {"current_password": "not-the-password"})
    soup = check_page(wrong, 400)
    assert soup.select_one("#current_password-error").get_text(" ", strip=True).endswith("Das Passwort ist falsch.")


def test_account_section_with_a_link_and_the_unlink_error_page(app, browser, federated, make_account):
    account = make_account()
    federated("erika")
    sign_in(browser, account["email"], account["password"], next_url="/federation/link")
    browser.submit("/federation/link", {})
    page = browser.get("/account")
    soup = check_page(page, 200)
    section = soup.find("section", attrs={"aria-labelledby": "federation-account-h"}).get_text(" ", strip=True)
    # The stored level code is shown by its German name, not as "high".
    assert "Vertrauensniveau der letzten Identitätsprüfung dort: hoch." in section
    wrong = browser.submit_page(page, {"current_password": "wrong-password"},
                                selector="form[action='/federation/unlink']")
    soup = check_page(wrong, 400)
    assert soup.h1.get_text(strip=True) == "Verknüpfung mit dem Servicekonto aufheben"


def test_account_section_when_not_linked(signed_in):
    soup = check_page(signed_in.get("/account"), 200)
    section = soup.find("section", attrs={"aria-labelledby": "federation-account-h"})
    assert section.find("a", class_="button").get_text(strip=True) == "Servicekonto verknüpfen"


def test_refused_page(browser, federated):
    soup = check_page(federated("erika", abort=True), 401)
    assert soup.h1.get_text(strip=True) == "Anmeldung nicht möglich"
    assert "Die Anmeldung beim Servicekonto wurde abgebrochen." in soup.find("main").get_text()


def test_unavailable_page(make_app):
    app = make_app(UPSTREAM_ISSUER=f"http://127.0.0.1:{free_port()}")
    browser = Browser(app.test_client())
    soup = check_page(browser.get("/federation/start"), 503)
    assert soup.h1.get_text(strip=True) == "Das Servicekonto ist nicht erreichbar"
    assert soup.select_one("#local-sign-in").get_text(strip=True) == "Mit E-Mail-Adresse und Passwort anmelden"
