"""Small steps the end-to-end tests share: filling and sending forms the way a citizen does."""

import re
import uuid

import pyotp

CITIZEN_PASSWORD = "Ostfriesland-Tee-2026!"


def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.org"


def send(page, form: str = "main form[method=post]:not([action*=sign-out])", button: str = "button[type=submit]"):
    """Click the submit button of a form and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator(form).locator(button).first.click()


def fill(page, values: dict, form: str = "main form[method=post]:not([action*=sign-out])"):
    for name, value in values.items():
        page.locator(form).locator(f"[name={name}]").fill(value)


def follow(page, selector: str):
    """Click a link and wait for where it leads (through any redirects)."""
    with page.expect_navigation():
        page.locator(selector).first.click()


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def secret_on(page) -> str:
    """The authenticator key shown on a TOTP set-up page."""
    return re.sub(r"\s", "", page.locator(".secret").first.inner_text())


def signed_in_portal(page) -> bool:
    return page.locator("form[action='/logout']").count() == 1
