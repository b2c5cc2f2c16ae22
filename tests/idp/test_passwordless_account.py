"""An account without a password (made through the Land's service account) confirms a sensitive
change by a sign-in of the last five minutes: it has no password to give, and whoever holds an old
session of it must not delete it, switch its second factor off or move its e-mail address."""

from datetime import timedelta

import pyotp
import pytest

from support.a11y import check_page
from support.plugin import enable_totp

SIGN_IN_AGAIN = "To confirm it is you, please sign in again, then do this within five minutes."


@pytest.fixture
def passwordless(app, citizen):
    """The citizen's account, its password gone (as for one made through the upstream)."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account

    with app.app_context():
        db.session.get(Account, citizen["id"]).password_hash = None
        db.session.commit()
    return citizen


def _sign_in_ages(app, account_id, minutes=10):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        for record in WebSession.query.filter_by(account_id=account_id, ended_at=None):
            record.authenticated_at -= timedelta(minutes=minutes)
        db.session.commit()


def _account_exists(app, account_id) -> bool:
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account

    with app.app_context():
        return db.session.get(Account, account_id) is not None


def _errors(response) -> list[str]:
    return [li.get_text(" ", strip=True) for li in check_page(response, 400).select(".error-summary li")]


def test_the_pages_ask_no_password_and_say_how_to_confirm(passwordless, browser):
    for path in ("/account/delete", "/account/email"):
        soup = check_page(browser.get(path + "?lang=en"), 200)
        assert soup.select("input[name=current_password]") == []
        again = soup.find("a", string="Sign in again")
        assert again["href"] == f"/sign-in?next={path}"


def test_an_old_sign_in_deletes_nothing_and_a_fresh_one_deletes(app, passwordless, browser):
    _sign_in_ages(app, passwordless["id"])
    refused = browser.submit("/account/delete?lang=en", {"confirm": "y", "current_password": "irgendwas"})
    assert _errors(refused) == [SIGN_IN_AGAIN]
    assert _account_exists(app, passwordless["id"])

    _sign_in_ages(app, passwordless["id"], minutes=-10)  # as if signed in again just now
    deleted = browser.submit("/account/delete", {"confirm": "y"})
    assert deleted.status_code == 200 and not _account_exists(app, passwordless["id"])


def test_an_old_sign_in_switches_no_second_factor_off_and_makes_no_codes(app, passwordless, browser):
    enable_totp(app, passwordless["id"])
    _sign_in_ages(app, passwordless["id"])
    assert _errors(browser.submit("/account/totp/disable?lang=en", {})) == [SIGN_IN_AGAIN]
    assert _errors(browser.submit("/account/recovery-codes?lang=en", {})) == [SIGN_IN_AGAIN]
    assert _errors(browser.submit("/account/email?lang=en", {"new_email": "neu@example.org"})) == [SIGN_IN_AGAIN]

    _sign_in_ages(app, passwordless["id"], minutes=-10)
    codes = browser.submit("/account/recovery-codes", {})
    assert codes.status_code == 200 and "recovery" in codes.get_data(as_text=True).lower()
    assert browser.submit("/account/totp/disable", {}).status_code == 302


def test_with_a_password_the_password_is_still_asked(app, citizen, browser):
    secret = enable_totp(app, citizen["id"])
    assert pyotp.TOTP(secret).now()
    page = check_page(browser.get("/account/totp/disable"), 200)
    assert page.select_one("input[name=current_password][autocomplete=current-password]") is not None
    refused = browser.submit("/account/totp/disable?lang=en", {"current_password": "falsch-falsch-falsch"})
    assert refused.status_code == 400 and "The current password is wrong." in refused.get_data(as_text=True)
