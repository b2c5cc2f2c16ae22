"""Helpers for the core's tests: reading the database behind the app, registering, TOTP clocks."""

import pyotp
import pytest
import sqlalchemy as sa

from support.plugin import sign_in  # noqa: F401 - re-exported for the test modules

PASSWORD = "Lange-Passphrase-2026"


class Database:
    """Read (and, for time travel, write) the app's tables the way an auditor would."""

    def __init__(self, app):
        self.app = app

    def _run(self, fn):
        from buergerkonto.idp.extensions import db

        with self.app.app_context():
            try:
                return fn(db)
            finally:
                db.session.remove()

    def rows(self, sql: str, **params) -> list[dict]:
        return self._run(lambda db: [dict(r._mapping) for r in db.session.execute(sa.text(sql), params)])

    def one(self, sql: str, **params) -> dict | None:
        rows = self.rows(sql, **params)
        return rows[0] if rows else None

    def execute(self, sql: str, **params) -> None:
        def run(db):
            db.session.execute(sa.text(sql), params)
            db.session.commit()

        self._run(run)

    def account(self, email: str) -> dict | None:
        return self.one("SELECT * FROM account WHERE email = :email", email=email)

    def events(self, account_id=None, prefix: str = "") -> list[dict]:
        rows = self.rows("SELECT * FROM event ORDER BY id")
        return [r for r in rows if r["tag"].startswith(prefix)
                and (account_id is None or r["account_id"] == account_id)]

    def tags(self, account_id=None) -> list[str]:
        return [e["tag"] for e in self.events(account_id)]

    def snapshot(self) -> dict:
        """Everything the citizen-facing tables hold (to prove a request changed nothing)."""
        tables = ("account", "recovery_code", "mail_outbox")
        return {t: self.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables}


@pytest.fixture
def database(app):
    return Database(app)


def register(browser, email: str, password: str = PASSWORD, name: str = "", repeat: str | None = None):
    """Fill in the registration form like a citizen."""
    return browser.submit("/register", {"email": email, "name": name, "password": password,
                                        "password_repeat": password if repeat is None else repeat})


class Clock:
    """Time as the TOTP layer sees it (only there), so time steps are exact in tests."""

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def totp_clock(monkeypatch):
    """Freeze the TOTP layer's clock at the start of a 30-second step."""
    import time

    from buergerkonto.idp import totp

    clock = Clock((int(time.time()) // 30) * 30 + 1)
    monkeypatch.setattr(totp, "time", clock)
    return clock


def code_at(secret: str, moment: float) -> str:
    return pyotp.TOTP(secret).at(moment)


def enrol_totp(browser, clock: Clock) -> tuple[str, list[str]]:
    """Switch TOTP on from the account page; return the secret and the recovery codes shown."""
    page = browser.get("/account/totp")
    assert page.status_code == 200
    secret = browser.soup(page).select_one(".secret").get_text(strip=True)
    response = browser.submit_page(page, {"code": code_at(secret, clock.now)})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    codes = [li.get_text(strip=True) for li in browser.soup(response).select("ul.codes li")]
    return secret, codes


def sign_out(browser):
    page = browser.get("/sign-out")
    if page.status_code == 200:
        browser.submit_page(page, {})
