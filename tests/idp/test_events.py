"""Security events: each change and each sign-in leaves a structured, secret-free record."""

import json

from support.browser import Browser

from .conftest import code_at, enrol_totp, sign_in, sign_out

NEW_PASSWORD = "Ereignis-Passwort-2026"


def _journey(app, smtp, database, totp_clock):
    """A citizen's year in one test: every kind of security event, in order."""
    browser = Browser(app.test_client())
    email = "ereignis@example.org"
    browser.submit("/register", {"email": email, "password": "Lange-Passphrase-2026",
                                 "password_repeat": "Lange-Passphrase-2026"})
    browser.get(smtp.link(email, "/confirm-email/"))
    account_id = database.account(email)["id"]
    sign_in(browser, email, "falsches-passwort-1")
    sign_in(browser, email, "Lange-Passphrase-2026")
    secret, codes = enrol_totp(browser, totp_clock)
    browser.submit("/account/password", {"current_password": "Lange-Passphrase-2026", "password": NEW_PASSWORD,
                                         "password_repeat": NEW_PASSWORD})
    browser.submit("/account/email", {"new_email": "ereignis.neu@example.org", "current_password": NEW_PASSWORD})
    browser.get(smtp.link("ereignis.neu@example.org", "/account/email/confirm/"))
    sign_out(browser)
    sign_in(browser, "ereignis.neu@example.org", NEW_PASSWORD)
    browser.submit("/sign-in/second-factor", {"code": "000000"})
    totp_clock.now += 30
    browser.submit("/sign-in/second-factor", {"code": code_at(secret, totp_clock.now)})
    browser.submit("/account/totp/disable", {"current_password": NEW_PASSWORD})
    browser.submit("/account/delete", {"current_password": NEW_PASSWORD, "confirm": "y"})
    return account_id, {"passwords": ["Lange-Passphrase-2026", NEW_PASSWORD, "falsches-passwort-1"],
                        "codes": codes + [secret]}


def test_every_security_event_is_recorded_with_its_tag(app, smtp, database, totp_clock):
    account_id, _secrets = _journey(app, smtp, database, totp_clock)
    tags = database.tags(account_id)
    for expected in ("account:create", "account:email:verified", "account:login:failure", "account:login:success",
                     "account:totp:enable", "account:password:change", "account:email:change_requested",
                     "account:email:change", "account:session:end", "account:totp:disable", "account:delete"):
        assert expected in tags, (expected, tags)
    assert tags.index("account:login:failure") < tags.index("account:login:success")
    assert tags[-1] == "account:delete"
    failures = [e for e in database.events(account_id) if e["tag"] == "account:login:failure"]
    assert len(failures) == 2  # the wrong password and the wrong code


def test_events_carry_no_secrets(app, smtp, database, totp_clock, monkeypatch):
    # Keep the details the deletion would blank, to look at them.
    from buergerkonto.idp import accounts

    monkeypatch.setattr(accounts, "delete_account", lambda *a, **k: [])
    account_id, secrets = _journey(app, smtp, database, totp_clock)
    text = json.dumps([{k: str(v) for k, v in e.items()} for e in database.events()])
    for secret in secrets["passwords"] + secrets["codes"]:
        assert secret not in text
    assert "/confirm-email/" not in text and "/reset-password/" not in text


def test_a_refused_change_records_no_change_event(signed_in, database):
    signed_in.submit("/account/password", {"current_password": "falsch-falsch-1", "password": NEW_PASSWORD,
                                           "password_repeat": NEW_PASSWORD})
    signed_in.submit("/account/password", {"current_password": signed_in.account["password"],
                                           "password": "password1", "password_repeat": "password1"})
    tags = database.tags(signed_in.account["id"])
    assert "account:password:change" not in tags
    assert "account:reauth:failure" in tags


def test_lockout_is_recorded(app, make_account, database):
    account = make_account()
    browser = Browser(app.test_client())
    for _ in range(app.config["THROTTLE_FREE_FAILURES"]):
        sign_in(browser, account["email"], "falsch-falsch-1")
    lockouts = [e for e in database.events(account["id"]) if e["tag"] == "account:login:lockout"]
    assert len(lockouts) == 1
    details = lockouts[0]["details"]
    details = json.loads(details) if isinstance(details, str) else details
    assert details["scopes"] == ["account"]


def test_password_reset_is_recorded(browser, smtp, make_account, database):
    account = make_account()
    browser.submit("/forgot-password", {"email": account["email"]})
    page = browser.get(smtp.link(account["email"], "/reset-password/"))
    browser.submit_page(page, {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
    tags = database.tags(account["id"])
    assert "account:password:reset_requested" in tags and "account:password:reset" in tags


def test_sign_in_events_record_the_address_and_methods(signed_in, database):
    success = [e for e in database.events(signed_in.account["id"]) if e["tag"] == "account:login:success"][-1]
    assert success["ip_address"] == "127.0.0.1"
    details = success["details"]
    details = json.loads(details) if isinstance(details, str) else details
    assert details["amr"] == ["pwd"]


def test_an_event_stands_or_falls_with_its_transaction(app):
    """``events.record`` writes at once, in the caller's transaction: a rollback takes it back."""
    from sqlalchemy import func, select

    from buergerkonto.idp import events
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Event

    def count(tag):
        return db.session.execute(select(func.count()).select_from(Event).where(Event.tag == tag)).scalar()

    with app.app_context():
        events.record("test:event:rolled-back", None, note="gone")
        assert count("test:event:rolled-back") == 1  # visible in its own transaction at once
        db.session.rollback()
        assert count("test:event:rolled-back") == 0
        events.record("test:event:kept", None, note="kept")
        db.session.commit()
        row = db.session.execute(select(Event).where(Event.tag == "test:event:kept")).scalar_one()
        assert row.details == {"note": "kept"} and row.ip_address is None and row.created_at is not None
        db.session.remove()
