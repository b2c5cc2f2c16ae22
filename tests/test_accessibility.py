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

from support.a11y import check_page
from support.browser import Browser
from support.plugin import sign_in

STYLE = Path(__file__).resolve().parent.parent / "idp" / "static" / "style.css"

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


def _crawl(browser, starts, limit=60):
    """Every page of this service reachable by links from ``starts`` (GET only), checked."""
    seen, queue, checked = set(), list(starts), []
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = browser.get(path)
        if response.status_code in (301, 302, 303) or response.mimetype != "text/html":
            continue
        check_page(response)
        checked.append(path)
        for link in BeautifulSoup(response.get_data(as_text=True), "html.parser").find_all("a", href=True):
            target = urlsplit(link["href"])
            if target.scheme or target.netloc or not target.path.startswith("/"):
                continue
            if target.path.startswith("/static/") or "lang=" in target.query:
                continue
            queue.append(target.path + (f"?{target.query}" if target.query else ""))
    return checked


def test_every_linked_page_passes_the_checks(app, signed_in):
    """New pages that parts link from the start or account page are checked without a new test."""
    public = _crawl(Browser(app.test_client()), ["/"])
    assert {"/", "/sign-in", "/register", "/forgot-password"} <= set(public)
    private = _crawl(signed_in, ["/account"])
    assert {"/account", "/account/profile", "/account/password", "/account/delete"} <= set(private)


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
    (("body", "color"), (".session-notice", "background")),
    (("a", "color"), (".session-notice", "background")),
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
    ((".session-notice", "border-left"), (".session-notice", "background")),
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
