"""WCAG 2.1 AA in structure: every reachable page, in both languages and in its error states.

The checks are what a screen-reader or keyboard user depends on and what can be
read from the markup: a language, a title, one h1, landmarks and a skip link,
labels tied to fields, the autocomplete purpose of personal-data fields (1.3.5),
error messages tied to their fields, unique ids, tables with headers. The
palette's contrast is computed from static/style.css.
"""

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from bs4 import BeautifulSoup

from support.plugin import sign_in

STYLE = Path(__file__).resolve().parent.parent / "idp" / "static" / "style.css"

# The autocomplete field names of the HTML standard (WCAG 1.3.5 refers to them).
AUTOCOMPLETE_TOKENS = {
    "name", "honorific-prefix", "given-name", "additional-name", "family-name", "honorific-suffix",
    "nickname", "username", "new-password", "current-password", "one-time-code", "organization-title",
    "organization", "street-address", "address-line1", "address-line2", "address-line3",
    "address-level4", "address-level3", "address-level2", "address-level1", "country", "country-name",
    "postal-code", "cc-name", "bday", "bday-day", "bday-month", "bday-year", "sex", "url", "photo",
    "tel", "tel-national", "email", "impp", "language", "off", "on",
}
# Fields that ask for personal data, and the purposes their autocomplete may name.
EXPECTED_PURPOSE = {
    "email": {"email", "username"}, "new_email": {"email"}, "username": {"username"},
    "name": {"name"}, "given_name": {"given-name"}, "family_name": {"family-name"},
    "phone_number": {"tel"}, "street_address": {"street-address"}, "postal_code": {"postal-code"},
    "locality": {"address-level2"}, "code": {"one-time-code"},
    "password": {"current-password", "new-password"}, "password_repeat": {"new-password"},
    "current_password": {"current-password"},
}
TEXT_TYPES = {"text", "email", "password", "tel", "url", "search", "number", "date", None}


def check_page(response, expect_status=None):
    """Assert the structural rules on one HTML page; return its soup for further checks."""
    if expect_status is not None:
        assert response.status_code == expect_status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    where = f"{response.request.path if hasattr(response, 'request') else ''} ({response.status_code})"

    assert html.lstrip().lower().startswith("<!doctype html>"), where
    assert soup.html.get("lang") in ("de", "en"), where
    title = soup.find("title")
    assert title is not None and title.get_text(strip=True), where
    assert not title.get_text(strip=True).startswith("–"), f"empty title block on {where}"
    assert len(soup.find_all("h1")) == 1, f"{where}: {[h.get_text() for h in soup.find_all('h1')]}"

    # Landmarks: one main, a banner and a contentinfo; navigation regions are named.
    assert len(soup.find_all("main")) == 1, where
    assert soup.find("header") is not None and soup.find("footer") is not None, where
    for nav in soup.find_all("nav"):
        assert nav.get("aria-label") or nav.get("aria-labelledby"), where
    # The skip link comes first and leads to the main content.
    first_link = soup.body.find("a")
    main = soup.find("main")
    assert first_link["href"] == "#" + main["id"], where

    for element in soup.find_all(True):
        for attribute, value in element.attrs.items():
            assert value != "None", f"{where}: {element.name} {attribute}=\"None\""
    ids = [element["id"] for element in soup.find_all(id=True)]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"duplicate ids on {where}: {duplicates}"
    ids = set(ids)

    for element in soup.find_all(attrs={"aria-describedby": True}):
        assert set(element["aria-describedby"].split()) <= ids, where
    for element in soup.find_all(attrs={"aria-labelledby": True}):
        assert set(element["aria-labelledby"].split()) <= ids, where
    for link in soup.find_all("a", href=True):
        if link["href"].startswith("#"):
            assert link["href"][1:] in ids, f"{where}: link to missing #{link['href'][1:]}"
        assert link.get_text(strip=True) or link.get("aria-label"), f"{where}: empty link"
    for button in soup.find_all("button"):
        assert button.get_text(strip=True) or button.get("aria-label"), f"{where}: empty button"
    for image in soup.find_all("img"):
        assert image.has_attr("alt"), where

    _check_fields(soup, where)
    _check_forms(soup, where)
    _check_tables(soup, where)
    _check_errors(soup, where)
    return soup


def _check_fields(soup, where):
    for field in soup.find_all(["input", "select", "textarea"]):
        kind = field.get("type")
        if kind == "hidden" or field.has_attr("hidden"):
            continue
        name = field.get("name")
        assert field.get("id"), f"{where}: field {name} without id"
        labels = soup.find_all("label", attrs={"for": field["id"]})
        assert len(labels) == 1 and labels[0].get_text(strip=True), f"{where}: field {name} without label"
        if field.name == "input" and kind in ("submit", "button", "checkbox", "radio"):
            continue
        if kind in TEXT_TYPES and name in EXPECTED_PURPOSE:
            token = field.get("autocomplete")
            assert token, f"{where}: personal-data field {name} without autocomplete"
            assert token in EXPECTED_PURPOSE[name], f"{where}: {name} has autocomplete={token}"
        if field.get("autocomplete"):
            assert field["autocomplete"].split()[-1] in AUTOCOMPLETE_TOKENS, where
    # Password managers pair a new password with the account's username (hidden is fine).
    for field in soup.find_all("input", attrs={"autocomplete": "new-password"}):
        form = field.find_parent("form")
        assert form.find("input", attrs={"autocomplete": re.compile("^(username|email)$")}), where


def _check_forms(soup, where):
    for form in soup.find_all("form"):
        if form.get("method", "get").lower() == "post":
            assert form.find("input", attrs={"name": "csrf_token"}), f"{where}: post form without CSRF token"
        assert form.find(["button", "input"], attrs={"type": "submit"}) or form.find("button"), where


def _check_tables(soup, where):
    for table in soup.find_all("table"):
        headers = table.find_all("th")
        assert headers, f"{where}: table without headers"
        assert all(th.get("scope") in ("col", "row") for th in headers), where
        assert table.find("caption") or table.get("aria-label") or table.get("aria-labelledby"), where


def _check_errors(soup, where):
    """A field with an error is marked invalid and described by its message; the summary links to it."""
    invalid = soup.find_all(attrs={"aria-invalid": "true"})
    summary = soup.find(class_="error-summary")
    for field in invalid:
        described = field.get("aria-describedby", "").split()
        messages = [soup.find(id=i) for i in described]
        assert any(m is not None and "error" in (m.get("class") or []) for m in messages), where
        assert summary is not None, f"{where}: invalid field but no error summary"
        assert summary.find("a", href="#" + field["id"]), f"{where}: summary does not link to {field['id']}"
    if summary is not None:
        assert summary.get("role") == "alert" or summary.find(attrs={"role": "alert"}), where
        heading = summary.find(["h2", "h3"])
        assert heading is not None and heading.get_text(strip=True), where


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("path", ["/", "/sign-in", "/register", "/forgot-password", "/register/sent"])
def test_public_pages(client, path, lang):
    soup = check_page(client.get(f"{path}?lang={lang}"), 200)
    assert soup.html["lang"] == lang


@pytest.mark.parametrize("path, status", [
    ("/no-such-page", 404),
    ("/confirm-email/not-a-token", 400),
    ("/reset-password/not-a-token", 400),
    ("/account/email/confirm/not-a-token", 400),
])
def test_error_and_link_problem_pages(client, path, status):
    check_page(client.get(path), status)


def test_method_not_allowed_and_expired_form_pages(client):
    check_page(client.post("/"), 405)
    check_page(client.post("/sign-in", data={"email": "a@example.org", "password": "x"}), 400)


@pytest.mark.parametrize("path, data", [
    ("/sign-in", {"email": "", "password": ""}),
    ("/sign-in", {"email": "nobody@example.org", "password": "falsch-falsch"}),
    ("/register", {"email": "kein-at", "password": "kurz", "password_repeat": "anders"}),
    ("/forgot-password", {"email": ""}),
])
def test_form_pages_with_errors(browser, path, data):
    response = browser.submit(path, data)
    soup = check_page(response)
    assert response.status_code in (400, 401)
    assert soup.find(attrs={"aria-invalid": "true"}) is not None
    assert soup.find(class_="error-summary") is not None


def test_resend_confirmation_with_errors(browser):
    page = browser.get("/confirm-email/not-a-token")
    response = browser.submit_page(page, {"email": "kein-at"}, url="/confirm-email/resend")
    check_page(response, 400)


def test_reset_password_page(browser, make_account, smtp):
    account = make_account()
    browser.submit("/forgot-password", {"email": account["email"]})
    check_page(browser.last, 200)
    link = smtp.link(account["email"], "/reset-password/")
    path = urlsplit(link).path
    soup = check_page(browser.get(path), 200)
    username = soup.find("input", attrs={"autocomplete": "username"})
    assert username["value"] == account["email"]
    response = browser.submit(path, {"password": "kurz", "password_repeat": "kürzer"})
    check_page(response, 400)


def test_unconfirmed_account_page(browser, make_account, app):
    account = make_account()
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account

    with app.app_context():
        db.session.get(Account, account["id"]).email_verified_at = None
        db.session.commit()
    check_page(sign_in(browser, account["email"], account["password"]), 403)


@pytest.mark.parametrize("path", [
    "/account", "/account/profile", "/account/password", "/account/email", "/account/totp",
    "/account/delete", "/sign-out",
])
def test_account_pages(signed_in, path):
    check_page(signed_in.get(path), 200)


@pytest.mark.parametrize("path, data", [
    ("/account/password", {"current_password": "falsch", "password": "kurz", "password_repeat": "x"}),
    ("/account/email", {"new_email": "kein-at", "current_password": ""}),
    ("/account/profile", {"name": "x" * 300, "postal_code": "1" * 20}),
    ("/account/totp", {"code": ""}),
    ("/account/delete", {"current_password": ""}),
])
def test_account_pages_with_errors(signed_in, path, data):
    soup = check_page(signed_in.submit(path, data), 400)
    assert soup.find(attrs={"aria-invalid": "true"}) is not None


def test_profile_fields_carry_their_autocomplete_purpose(signed_in):
    soup = check_page(signed_in.get("/account/profile"), 200)
    tokens = {field["name"]: field.get("autocomplete") for field in soup.select("form input[name]")
              if field.get("type") != "hidden"}
    assert tokens == {"name": "name", "given_name": "given-name", "family_name": "family-name",
                      "phone_number": "tel", "street_address": "street-address",
                      "postal_code": "postal-code", "locality": "address-level2"}


def test_two_step_pages(signed_in):
    """Setting up TOTP, the recovery codes, the second-factor step and the pages behind them."""
    browser = signed_in
    setup = check_page(browser.get("/account/totp"), 200)
    qr = setup.find(class_="qr")
    assert qr.get("role") == "img" and qr.get("aria-label")
    secret = setup.find(class_="secret").get_text(strip=True)
    codes_page = browser.submit("/account/totp", {"code": pyotp.TOTP(secret).now()})
    soup = check_page(codes_page, 200)
    assert len(soup.select("ul.codes li")) >= 8
    for path in ("/account", "/account/totp/disable", "/account/recovery-codes"):
        check_page(browser.get(path), 200)
    check_page(browser.submit("/account/recovery-codes", {"current_password": "falsch"}), 400)
    check_page(browser.submit("/account/totp/disable", {"current_password": ""}), 400)

    browser.submit("/sign-out", {})
    response = sign_in(browser, browser.account["email"], browser.account["password"])
    assert response.headers["Location"].endswith("/sign-in/second-factor")
    second = check_page(browser.get("/sign-in/second-factor"), 200)
    assert second.find("input", attrs={"name": "code"})["autocomplete"] == "one-time-code"
    check_page(browser.submit("/sign-in/second-factor", {"code": "000000"}), 401)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert browser.submit("/sign-in/second-factor", {"code": code}).status_code == 302


def test_deleted_account_page(signed_in):
    response = signed_in.submit("/account/delete", {"current_password": signed_in.account["password"],
                                                    "confirm": "y"})
    check_page(response, 200)


def test_flash_messages_are_announced(signed_in):
    signed_in.submit("/account/profile", {"name": "Erika"})
    soup = check_page(signed_in.get("/account"), 200)
    flashes = soup.find(class_="flashes")
    assert flashes is not None and flashes.get("role") == "status"


# --- colour contrast --------------------------------------------------------------------------


def _css_rules(text: str) -> dict[str, dict[str, str]]:
    """selector -> declarations, later rules overriding earlier ones (no media queries here)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declarations = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                prop, value = declaration.split(":", 1)
                declarations[prop.strip()] = value.strip()
        for selector in selectors.split(","):
            rules.setdefault(" ".join(selector.split()), {}).update(declarations)
    return rules


RULES = _css_rules(STYLE.read_text())


def _colour(selector: str, prop: str) -> str:
    """The colour a rule gives ``prop`` (for shorthands like border/outline: its colour part)."""
    value = RULES[selector][prop]
    variables = RULES[":root"]
    value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables[m.group(1)], value)
    found = re.findall(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", value)
    assert found, f"{selector} {prop}: {value}"
    return found[-1]


def _luminance(hex_colour: str) -> float:
    hex_colour = hex_colour.lstrip("#")
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#ffbf47", "#ffffff") < 3  # the old focus ring on white: too faint


PAGE = ("body", "background")
TEXT_PAIRS = [  # (foreground rule, property), (background rule, property): text needs 4.5:1
    (("body", "color"), PAGE),
    ((".hint", "color"), PAGE),
    (("a", "color"), PAGE),
    ((".error", "color"), PAGE),
    ((".error-summary a", "color"), PAGE),
    ((".site-footer", "color"), PAGE),
    ((".site-header", "color"), (".site-header", "background")),
    ((".site-header a", "color"), (".site-header", "background")),
    ((".site-header span", "color"), (".site-header", "background")),
    ((".skip-link", "color"), (".skip-link", "background")),
    ((".skip-link:focus", "color"), (".skip-link:focus", "background")),
    (("button", "color"), ("button", "background")),
    (("button.secondary", "color"), ("button.secondary", "background")),
    (("button", "color"), ("button.danger", "background")),
    (("body", "color"), (".flash", "background")),
    (("body", "color"), (".flash-success", "background")),
    (("body", "color"), (".flash-error", "background")),
    (("input[type=text]", "color"), ("input[type=text]", "background")),
]
UI_PAIRS = [  # focus rings, field borders and state borders need 3:1 against what surrounds them
    (("a:focus", "outline"), PAGE),
    (("button:focus", "outline"), PAGE),
    (("input:focus", "outline"), PAGE),
    ((".site-header a:focus", "outline-color"), (".site-header", "background")),
    ((".skip-link:focus", "outline-color"), (".site-header", "background")),
    (("input[type=text]", "border"), PAGE),
    ((".field-error input", "border-color"), PAGE),
    ((".error-summary", "border"), PAGE),
    (("button", "border"), PAGE),
    ((".flash-error", "border-color"), (".flash-error", "background")),
    ((".flash", "border-left"), (".flash", "background")),
]


@pytest.mark.parametrize("fg, bg", TEXT_PAIRS, ids=lambda pair: " ".join(pair))
def test_text_contrast_at_least_4_5(fg, bg):
    ratio = contrast(_colour(*fg), _colour(*bg))
    assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}:1"


@pytest.mark.parametrize("fg, bg", UI_PAIRS, ids=lambda pair: " ".join(pair))
def test_ui_component_contrast_at_least_3(fg, bg):
    ratio = contrast(_colour(*fg), _colour(*bg))
    assert ratio >= 3, f"{fg} against {bg}: {ratio:.2f}:1"


def test_focus_is_never_hidden_on_interactive_elements():
    for selector, declarations in RULES.items():
        if ":focus" in selector and selector != "main:focus":
            assert declarations.get("outline", "").strip() not in ("none", "0"), selector
