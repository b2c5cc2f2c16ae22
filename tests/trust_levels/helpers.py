"""Helpers for the trust-level tests: the citizen's and the clerk's steps, a TOTP app."""

import time
from datetime import date, timedelta

import pyotp

from support.browser import Browser
from support.plugin import sign_in

# The page's main form (the staff navigation has a small sign-out form of class ``inline``).
FORM = "form[method=post]:not(.inline)"

STAFF_PASSWORD = "Schalter-Passphrase-2026"

PERSON = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1964-08-12",
    "place_of_birth": "Berlin",
    "street_address": "Heidestraße 17",
    "postal_code": "26789",
    "locality": "Leer",
}


class Authenticator:
    """The staff member's phone: hands out each TOTP time step at most once, as a real app would be used."""

    def __init__(self, secret: str):
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        self.last_step = None

    def code(self) -> str:
        step = int(time.time() // 30)
        if self.last_step is not None and step <= self.last_step:
            step = self.last_step + 1
        self.last_step = step
        return self.totp.generate_otp(step)


def staff_password_set(browser: Browser, setup_url: str):
    response = browser.submit(setup_url, {"password": STAFF_PASSWORD, "password_repeat": STAFF_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]


def staff_password_step(browser: Browser, email: str, password: str = STAFF_PASSWORD):
    return browser.submit("/staff", {"email": email, "password": password})


def request_check(citizen: Browser, **overrides) -> str:
    """The citizen asks for a check on the account page; returns the code shown."""
    response = citizen.submit("/account/identity", {**PERSON, **overrides}, selector=FORM)
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    page = citizen.get("/account/identity")
    return Browser.soup(page).select_one(".secret strong").get_text(strip=True)


def look_up(staff: Browser, code: str):
    return staff.submit("/staff/home", {"check_code": code}, selector=FORM)


def document(number="L01X00T47", expires=None, doc_type="idcard", country="DEU", **person):
    expires = expires or (date.today() + timedelta(days=3 * 365))
    return {"document_type": doc_type, "document_country": country, "document_expires_on": expires.isoformat(),
            "document_number": number, "compared": "y", **person}


def confirm_check(staff: Browser, code: str, **fields):
    """Look up, open and confirm; returns the final response (confirmed or held page)."""
    response = look_up(staff, code)
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    check_url = response.headers["Location"]
    return staff.submit(check_url, document(**fields), selector=FORM)


def confirm_one_document_for(clerk: Browser, new_browser, accounts, number: str) -> None:
    """Each account signs in and asks for a check; ``clerk`` confirms every one with the same document.
    The first is confirmed, those after it are held (the document is on another account)."""
    for account in accounts:
        browser = new_browser()
        assert sign_in(browser, account["email"], account["password"]).status_code == 302
        assert confirm_check(clerk, request_check(browser), number=number).status_code == 200
