"""A finished sign-in answers the authorization request it came from in its own response.

The browser goes from the sign-in form straight to the portal with the code (``web.continue_to``,
``authorize.authorize_in_place``). What the second trip through ``/authorize`` did must still happen:
every check of the request, consent, the second factor, errors to the portal; and a page is never
the answer to a form: the browser is sent to the request, and the page answers there.
"""

from urllib.parse import parse_qs, quote, urlsplit

import pyotp

from support.plugin import enable_totp

from .conftest import REDIRECT


def _sign_in_page(browser, authorize_url):
    response = browser.get(authorize_url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    return response.headers["Location"]


def _password(browser, page, account):
    return browser.submit(page, {"email": account["email"], "password": account["password"]})


def test_the_sign_in_sets_its_new_cookie_on_the_redirect_to_the_portal(app, rp, browser, make_account):
    name = app.config["SESSION_COOKIE_NAME"]
    account = make_account()
    page = _sign_in_page(browser, rp.authorize_url("openid"))
    browser.get(page)  # the sign-in page starts the browser's session
    before = browser.client.get_cookie(name).value
    done = _password(browser, page, account)
    assert "code" in rp.callback(done)
    after = browser.client.get_cookie(name).value
    assert f"{name}={after}" in done.headers["Set-Cookie"] and after != before  # a new session id at sign-in
    # The browser is signed in: the next authorization request gets its code at once.
    assert "code" in rp.callback(browser.get(rp.authorize_url("openid")))


def test_a_portal_that_needs_consent_gets_the_page_by_get_not_in_answer_to_the_form(
        make_rp, browser, make_account):
    external = make_rp(external=True)
    account = make_account()
    page = _sign_in_page(browser, external.authorize_url("openid email"))
    done = _password(browser, page, account)
    assert done.status_code == 302
    back = parse_qs(urlsplit(page).query)["next"][0]
    assert done.headers["Location"] == back  # to the request: reloading the consent page sends no password
    consent = browser.get(back)
    assert consent.status_code == 200 and external.is_consent_page(consent)
    result = external.callback(external.decide(consent, "allow"))
    assert result["state"] == external.state and external.redeem(result["code"]).status_code == 200


def test_an_invalid_request_without_a_proven_portal_is_shown_where_it_is(browser, make_account):
    """A ``next`` naming no known portal: no redirect to anyone's URI; the error page answers the GET."""
    account = make_account()
    broken = "/authorize?response_type=code&client_id=nobody&redirect_uri=" + quote("https://evil.example/cb")
    done = browser.submit("/sign-in?next=" + quote(broken, safe=""),
                          {"email": account["email"], "password": account["password"]})
    assert done.status_code == 302 and done.headers["Location"] == broken
    shown = browser.get(broken)
    assert shown.status_code == 400 and "evil.example" not in shown.headers.get("Location", "")


def test_an_invalid_request_of_a_proven_portal_goes_back_to_it_with_the_error(rp, browser, make_account):
    """(A request the sign-in page would not have been reached with: ``next`` names it directly.)"""
    account = make_account()
    page = "/sign-in?next=" + quote(rp.authorize_url("openid", response_mode="fragment"), safe="")
    done = _password(browser, page, account)
    result = rp.callback(done)
    assert result["error"] == "invalid_request" and result["state"] == rp.state
    assert result["iss"] == "http://localhost" and "code" not in result


def test_forced_sign_in_resumes_the_remembered_request_in_place(rp, browser, make_account):
    account = make_account()
    assert "code" in rp.callback(_password(browser, _sign_in_page(browser, rp.authorize_url("openid")), account))
    page = _sign_in_page(browser, rp.authorize_url("openid", prompt="login"))
    assert "/authorize/resume/" in parse_qs(urlsplit(page).query)["next"][0]
    result = rp.callback(_password(browser, page, account))
    assert result["state"] == rp.state
    tokens = rp.redeem(result["code"]).get_json()
    assert rp.id_token(tokens["id_token"])["auth_time"] > 0


def test_an_expired_remembered_request_is_left_to_its_page(rp, browser, make_account):
    """The resume address of a request no longer remembered: the sign-in redirects there, and it says so."""
    account = make_account()
    done = browser.submit("/sign-in?next=" + quote("/authorize/resume/" + "0" * 32, safe=""),
                          {"email": account["email"], "password": account["password"]})
    assert done.status_code == 302 and done.headers["Location"] == "/authorize/resume/" + "0" * 32
    assert browser.get(done.headers["Location"]).status_code == 400


def test_the_second_factor_answers_with_the_code(app, rp, browser, make_account):
    account = make_account()
    secret = enable_totp(app, account["id"])
    page = _sign_in_page(browser, rp.authorize_url("openid"))
    first = _password(browser, page, account)
    assert first.status_code == 302 and first.headers["Location"].startswith("/sign-in/second-factor")
    done = browser.submit(first.headers["Location"], {"code": pyotp.TOTP(secret).now()})
    result = rp.callback(done)
    assert result["state"] == rp.state
    claims = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert set(claims["amr"]) >= {"pwd", "otp", "mfa"}


def test_a_sign_in_for_a_page_of_this_service_still_redirects_to_it(browser, make_account):
    account = make_account()
    done = browser.submit("/sign-in?next=%2Faccount", {"email": account["email"], "password": account["password"]})
    assert done.status_code == 302 and done.headers["Location"] == "/account"
    assert REDIRECT not in done.headers["Location"]


def test_a_fragment_on_next_does_not_reach_the_request(rp, browser, make_account):
    """The browser would not send it; answered in place, it must not end up in the last parameter."""
    account = make_account()
    done = browser.submit("/sign-in?next=" + quote(rp.authorize_url("openid") + "#frag", safe=""),
                          {"email": account["email"], "password": account["password"]})
    result = rp.callback(done)
    assert result["state"] == rp.state and "code" in result
