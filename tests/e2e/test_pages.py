"""Pages the journey does not pass through, checked by axe-core in both languages, and a keyboard-only pass.

Error pages (not found, a refused form, a broken link, a refused authorization request,
the staff sign-in with errors, a portal's error), the consent page an external portal
leads to, and the demo citizen signing in and reading a message with Tab and Enter only.
"""

from urllib.parse import urlencode, urlsplit

import pytest

from e2e.pages import CITIZEN_PASSWORD, fill, follow, new_email, send, signed_in_portal

LOCALES = {"de": "de-DE", "en": "en-GB"}


def make_citizen(network, tag: str) -> str:
    from buergerkonto.idp import accounts
    from buergerkonto.idp.extensions import db

    email = new_email(tag)
    with network.app.app_context():
        accounts.create_account(email, CITIZEN_PASSWORD, "Tamme Janssen", verified=True)
        db.session.commit()
    return email


def sign_in(page, network, email: str):
    page.goto(f"{network.issuer}/sign-in")
    fill(page, {"email": email, "password": CITIZEN_PASSWORD})
    send(page)
    assert urlsplit(page.url).path == "/account"


@pytest.mark.parametrize("lang", ["de", "en"])
def test_error_pages_pass_axe(network, new_context, axe, lang):
    page = new_context(LOCALES[lang]).new_page()
    idp = network.issuer

    assert page.goto(f"{idp}/no-such-page").status == 404
    assert axe(page, "not found") == lang
    assert page.goto(f"{idp}/confirm-email/not-a-token").status == 400
    axe(page, "broken confirmation link")
    assert page.goto(f"{idp}/reset-password/not-a-token").status == 400
    axe(page, "broken reset link")

    _refused_sign_in(page, f"{idp}/sign-in", axe, "sign-in with errors")

    page.goto(f"{idp}/forgot-password")
    axe(page, "forgot password")

    query = urlencode({"response_type": "code", "client_id": "no-such-portal", "redirect_uri": "https://x.example/cb",
                       "scope": "openid"})
    assert page.goto(f"{idp}/authorize?{query}").status == 400
    axe(page, "authorization refused")

    _refused_sign_in(page, f"{idp}/staff", axe, "staff sign-in with errors")

    portal = network.portals["stadt"]
    page.goto(portal + "/postbox/no-such-message")  # signed out: the portal sends the citizen to sign in
    assert urlsplit(page.url).path == "/sign-in"
    axe(page, "sign-in from a portal")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_consent_page_of_an_external_portal_passes_axe(network, new_context, axe, screenshot, lang):
    page = new_context(LOCALES[lang]).new_page()
    sign_in(page, network, make_citizen(network, f"consent-{lang}"))

    page.goto(network.external + "/")
    follow(page, "a[href='/login']")
    assert urlsplit(page.url).path == "/authorize"
    assert page.locator("form input[name=decision][value=allow]").count() == 1
    axe(page, "consent")
    if lang == "de":
        screenshot(page, "12-consent")
    send(page, "main form:has(input[value=allow])")
    assert page.url.startswith(network.external) and signed_in_portal(page)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_account_pages_pass_axe(network, new_context, axe, lang):
    page = new_context(LOCALES[lang]).new_page()
    sign_in(page, network, make_citizen(network, f"pages-{lang}"))
    idp = network.issuer
    for path in ("/account/profile", "/account/password", "/account/email", "/account/identity",
                 "/account/delete", "/postbox"):
        response = page.goto(idp + path)
        assert response.status == 200 and urlsplit(page.url).path == path, page.url
        assert axe(page, path) == lang

    # A portal asking which account (prompt=select_account) gets the account chooser.
    stadt = network.portals["stadt"]
    query = urlencode({"response_type": "code", "client_id": network.state["clients"]["stadt"]["client_id"],
                       "redirect_uri": stadt + "/callback", "scope": "openid", "state": "s", "nonce": "n",
                       "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                       "code_challenge_method": "S256", "prompt": "select_account"})
    assert page.goto(f"{idp}/authorize?{query}").status == 200
    assert page.locator("main form input[name=decision][value=this-account]").count() == 1
    assert axe(page, "account chooser") == lang

    # Signing out at the Bürgerkonto without a portal's hint asks first, then says it is done.
    page.goto(f"{idp}/end-session")
    axe(page, "sign-out confirmation")
    send(page)
    assert page.locator("main form").count() == 0
    axe(page, "signed out")


def _tab_to(page, selector: str, limit: int = 40):
    """Press Tab until the focused element matches ``selector``; each focus stop must be visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""sel => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {matches: el.matches(sel), outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
                    tag: el.tagName, text: (el.innerText || el.value || '').slice(0, 40)};
        }""", selector)
        if focused["tag"] != "BODY":
            assert focused["outline"] != "none" and focused["width"] >= 2, f"no visible focus on {focused}"
        if focused["matches"]:
            return
    raise AssertionError(f"{selector} not reached with Tab on {page.url}")


def _enter(page):
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_keyboard_only_sign_in_and_read_a_message(network, new_context, axe):
    from buergerkonto.idp.demo import DEMO_CITIZEN, DEMO_PASSWORD

    page = new_context("de-DE").new_page()
    portal = network.portals["stadt"]
    page.goto(portal + "/")

    _tab_to(page, "a[href='/login']")
    _enter(page)
    assert urlsplit(page.url).path == "/sign-in"
    _tab_to(page, "input[name=email]")
    page.keyboard.type(DEMO_CITIZEN)
    _tab_to(page, "input[name=password]")
    page.keyboard.type(DEMO_PASSWORD)
    _enter(page)
    assert page.url.startswith(portal) and signed_in_portal(page)

    # A status update to read: sent with the keyboard too.
    _tab_to(page, "form[action='/send-status']:not(:has([name=with_pdf])) button")
    _enter(page)
    assert page.locator(".flash").count() == 1
    _tab_to(page, "a[href='/postbox']")
    _enter(page)
    _tab_to(page, "main table a[href^='/postbox/']")
    _enter(page)
    assert "DEMO-2026-001" in page.locator("h1").inner_text()
    assert "Der Status Ihres Antrags hat sich geändert." in page.locator("main").inner_text()


def _refused_sign_in(page, url, axe, name):
    """A wrong password on a sign-in form: the error summary shows, and the page passes axe."""
    page.goto(url)
    fill(page, {"email": "nobody@example.org", "password": "falsch-falsch-falsch"})
    send(page)
    assert page.locator(".error-summary").count() == 1
    axe(page, name)
