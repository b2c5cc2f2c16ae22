"""Structural accessibility checks (WCAG 2.1 AA) on a rendered HTML page.

``check_page(response)`` asserts what a screen-reader or keyboard user depends
on and what can be read from the markup; every part's tests can run it over
their own pages (``from support.a11y import check_page``).
"""

import re

from bs4 import BeautifulSoup

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
# The identity fields may also be "off": at the Bürgerbüro counter a clerk types a citizen's data,
# which is not the user's own (WCAG 1.3.5 covers the user's own), so the clerk's browser must not
# fill in the clerk's. The citizen's own forms are held to their tokens by their tests
# (tests/test_accessibility.py, tests/trust_levels/test_whole_path.py).
EXPECTED_PURPOSE = {
    "email": {"email", "username"}, "new_email": {"email"}, "username": {"username"},
    "name": {"name"}, "given_name": {"given-name", "off"}, "family_name": {"family-name", "off"},
    "birthdate": {"bday", "off"}, "phone_number": {"tel"}, "street_address": {"street-address", "off"},
    "postal_code": {"postal-code", "off"}, "locality": {"address-level2", "off"}, "code": {"one-time-code"},
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
