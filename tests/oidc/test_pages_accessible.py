"""The provider's own pages (consent, step-up, logout, errors, account section) pass the structural
accessibility checks, in German and in English, and show no untranslated English in German."""

import json
from urllib.parse import urlencode

import pytest

from support.a11y import check_page

SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LANGS = pytest.mark.parametrize("lang", ["de", "en"])


def _speak(browser, lang):
    """Choose the page language the way the switcher does; it is kept in the session."""
    browser.get(f"/account?lang={lang}")


@LANGS
def test_consent_page(make_rp, citizen, browser, lang):
    _speak(browser, lang)
    rp = make_rp(name="Externes Portal", external=True)
    page = rp.authorize("openid profile email address phone offline_access", consent=None)
    soup = check_page(page, 200)
    assert soup.html["lang"] == lang and rp.is_consent_page(page)
    heading = soup.h1.get_text(strip=True)
    assert heading == {"de": "Externes Portal bittet um Ihre Daten",
                       "en": "Externes Portal asks for your data"}[lang]
    assert len(soup.select("ul.consent-list li")) == 6


@LANGS
def test_step_up_page(rp, citizen, browser, lang):
    _speak(browser, lang)
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": [SUBSTANTIAL]}}})
    soup = check_page(rp.authorize(claims=claims), 200)
    assert soup.html["lang"] == lang
    text = soup.find("main").get_text(" ", strip=True)
    if lang == "de":
        assert soup.h1.get_text(strip=True) == "Ein höheres Vertrauensniveau ist erforderlich"
        assert "„substantiell“" in text and "„normal“" in text
    else:
        assert "“substantial”" in text and "“normal”" in text


@LANGS
def test_account_chooser_page(rp, citizen, browser, lang):
    _speak(browser, lang)
    soup = check_page(rp.authorize(prompt="select_account"), 200)
    assert soup.html["lang"] == lang
    assert soup.h1.get_text(strip=True) == {"de": "Konto auswählen", "en": "Choose your account"}[lang]
    assert [b.get_text(strip=True) for b in soup.select("main form button")] == {
        "de": ["Mit diesem Konto fortfahren", "Abmelden und ein anderes Konto verwenden"],
        "en": ["Continue with this account", "Sign out and use another account"]}[lang]


@LANGS
def test_logout_pages(make_rp, citizen, browser, lang):
    _speak(browser, lang)
    soup = check_page(browser.get("/end-session"), 200)
    assert soup.html["lang"] == lang
    rp = make_rp(post_logout_redirect_uris=["https://portal.example/logged-out"])
    hint = rp.tokens()["id_token"]
    header, payload, signature = hint.split(".")
    check_page(browser.get("/end-session?" + urlencode({"id_token_hint": f"{header}.{payload[:-4]}AAAA.{signature}"})),
               400)
    logged_out = browser.get("/end-session?" + urlencode({"id_token_hint": hint,
                                                          "post_logout_redirect_uri": "https://evil.example/"}))
    assert check_page(logged_out, 200).html["lang"] == lang


def test_invalid_authorization_request_page(client, make_client):
    portal = make_client()
    response = client.get("/authorize?" + urlencode({"client_id": portal["client_id"],
                                                     "redirect_uri": "https://evil.example/cb",
                                                     "response_type": "code", "scope": "openid"}))
    soup = check_page(response, 400)
    assert soup.h1.get_text(strip=True) == "Anmeldung nicht möglich"


def test_account_section_lists_portals_and_consents(make_rp, citizen, browser):
    make_rp(name="Hundesteuer Moormerland").tokens("openid email")
    make_rp(name="Externes Portal", external=True).tokens("openid email")
    soup = check_page(browser.get("/account"), 200)
    table = soup.find("section", attrs={"aria-labelledby": "portals-h"}).find("table")
    assert [th.get_text(strip=True) for th in table.find_all("th")] == ["Portal", "Zuletzt genutzt",
                                                                        "Übermittelte Daten"]
    button = soup.select_one("form[action*='/account/consents/'] button")
    assert button.get_text(strip=True) == "Einwilligung für Externes Portal widerrufen"
