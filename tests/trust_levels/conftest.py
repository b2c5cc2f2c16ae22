"""Fixtures for the trust-level tests: offices and staff made through the CLI, staff and
citizens in separate browsers (separate test clients, separate cookies)."""

import json
import time

import pytest

from support.browser import Browser
from trust_levels.helpers import Authenticator, confirm_check, request_check, staff_password_set, staff_password_step


@pytest.fixture
def cli_json(runner):
    """Run a ``buergerkonto`` command with ``--json``; return the parsed object."""

    def run(*args):
        result = runner.invoke(args=[*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    return run


@pytest.fixture
def make_office(cli_json):
    def make(name="Bürgerbüro Leer", ags="03457013", municipality="Stadt Leer"):
        return cli_json("offices", "create", "--name", name, "--ags", ags, "--municipality", municipality)

    return make


@pytest.fixture
def office(make_office):
    return make_office()


@pytest.fixture
def new_browser(app):
    return lambda: Browser(app.test_client())


@pytest.fixture
def make_staff(cli_json, new_browser):
    """A staff member signed in (password, TOTP enrolled at first sign-in) in their own browser."""

    def make(office_id, role="verifier", email=None, citizen_account=None):
        email = email or f"staff-{time.time_ns()}@leer.example"
        args = ["staff", "create", "--email", email, "--office", str(office_id), "--role", role]
        if citizen_account:
            args += ["--citizen-account", citizen_account]
        created = cli_json(*args)
        browser = new_browser()
        staff_password_set(browser, created["setup_url"])
        response = staff_password_step(browser, email)
        assert response.headers["Location"].endswith("/staff/totp-setup")
        page = browser.get("/staff/totp-setup")
        secret = Browser.soup(page).select_one(".secret").get_text(strip=True)
        browser.authenticator = Authenticator(secret)
        response = browser.submit("/staff/totp-setup", {"code": browser.authenticator.code()})
        assert response.status_code == 302, response.get_data(as_text=True)[:800]
        browser.staff = created
        browser.email = email
        return browser

    return make


@pytest.fixture
def citizen(signed_in):
    return signed_in


@pytest.fixture
def verified(citizen, office, make_staff):
    """The signed-in citizen, confirmed at the counter of ``office`` (the whole check, through the pages)."""
    code = request_check(citizen)
    staff = make_staff(office["id"])
    assert confirm_check(staff, code).status_code == 200
    return citizen


@pytest.fixture
def in_app(app):
    """Run a function inside an app context with a request (hooks use url building and config)."""

    def run(fn, *args, **kwargs):
        with app.test_request_context():
            return fn(*args, **kwargs)

    return run
