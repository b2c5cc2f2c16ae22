"""The session time limits in a real browser (WCAG 2.2.1): static/session-timeout.js warns before the idle
end and offers to stay signed in, and warns before the absolute lifetime ends, which nothing extends.
Playwright's clock moves the page's time; the server's clock is moved by shifting the session's end."""

from datetime import timedelta

from e2e.test_pages import make_citizen, sign_in

NOTICE = "main > .session-notice[role=alert]"


def _end_lifetime_in(network, email: str, minutes: int) -> None:
    from buergerkonto.idp import accounts
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession
    from buergerkonto.idp.timeutil import utcnow

    with network.app.app_context():
        account = accounts.find_by_email(email)
        for record in WebSession.query.filter_by(account_id=account.id, ended_at=None):
            record.expires_at = utcnow() + timedelta(minutes=minutes)
        db.session.commit()


def test_before_the_idle_end_the_citizen_can_stay_signed_in(network, new_context, axe):
    page = new_context("en-GB").new_page()
    sign_in(page, network, make_citizen(network, "idle-notice"))
    page.clock.install()
    page.goto(f"{network.issuer}/account/profile")
    page.locator("#name").focus()
    page.clock.fast_forward("27:30")
    assert page.locator(NOTICE).count() == 0  # not before two minutes are left
    page.clock.fast_forward("00:35")
    notice = page.locator(NOTICE)
    assert "Your session ends in 2 minutes." in notice.inner_text()
    button = notice.get_by_role("button", name="Stay signed in")
    assert button.evaluate("element => element === document.activeElement")
    axe(page, "idle notice")
    with page.expect_response(lambda response: response.url.endswith("/session/keep-alive")) as answer:
        button.click()
    assert answer.value.status == 204
    page.locator(NOTICE).wait_for(state="detached")
    assert page.locator("#name").evaluate("element => element === document.activeElement")  # back where it was


def test_before_the_lifetime_ends_the_citizen_is_told_and_keeps_typing(network, new_context, axe):
    page = new_context("de-DE").new_page()
    email = make_citizen(network, "lifetime-notice")
    sign_in(page, network, email)
    _end_lifetime_in(network, email, minutes=10)
    page.clock.install()
    page.goto(f"{network.issuer}/account/profile")
    page.locator("#name").focus()
    page.clock.fast_forward("07:50")
    assert page.locator(NOTICE).count() == 0
    page.clock.fast_forward("00:20")
    notice = page.locator(NOTICE)
    text = " ".join(notice.inner_text().split())
    assert "Aus Sicherheitsgründen gilt eine Anmeldung höchstens 12 Stunden." in text
    assert "Schließen Sie Ihre Eingabe jetzt ab" in text
    assert notice.get_by_role("button").count() == 0 and notice.get_by_role("link").count() == 0
    assert page.locator("#name").evaluate("element => element === document.activeElement")  # typing goes on
    axe(page, "lifetime notice")
    page.clock.fast_forward("02:00")
    assert "Ihre Sitzung ist abgelaufen" in notice.inner_text()
    assert notice.get_by_role("link", name="Erneut anmelden").is_visible()
