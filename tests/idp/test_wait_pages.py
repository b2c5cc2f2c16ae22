"""Rate-limit and lockout pages say how long to wait, as Retry-After does, and lead back to the form."""

from math import ceil
from urllib.parse import unquote

import pytest
from flask_babel import force_locale

from buergerkonto.idp.app import wait_sentence
from support.a11y import check_page
from support.browser import Browser

WRONG = "falsch-falsch-falsch"


@pytest.mark.parametrize("seconds, sentence", [
    (1, "Please wait 1 second and try again."),
    (30, "Please wait 30 seconds and try again."),
    (59, "Please wait 59 seconds and try again."),
    (60, "Please wait 1 minute and try again."),
    (61, "Please wait 2 minutes and try again."),
    (900, "Please wait 15 minutes and try again."),
    (3600, "Please wait 60 minutes and try again."),
])
def test_the_wait_is_said_in_minutes_rounded_up_or_in_seconds(app, seconds, sentence):
    with app.test_request_context("/"), force_locale("en"):
        assert wait_sentence(seconds) == sentence


def _lock_out(browser, email, path="/sign-in?next=/account"):
    """Fail the sign-in until the account is locked; return the lockout page."""
    for _attempt in range(10):
        response = browser.submit(path, {"email": email, "password": WRONG})
        if response.status_code == 429:
            return response
    raise AssertionError("never locked")


def _main_text(response) -> str:
    return Browser.soup(response).find("main").get_text(" ", strip=True)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_sign_in_lockout_says_the_seconds_it_lasts_and_leads_back_to_sign_in(browser, make_account, lang):
    account = make_account()
    browser.get(f"/sign-in?lang={lang}")
    response = _lock_out(browser, account["email"])
    soup = check_page(response, 429)
    retry_after = int(response.headers["Retry-After"])
    assert retry_after <= 30  # THROTTLE_BASE_SECONDS: a lockout of seconds, not minutes
    text = _main_text(response)
    assert f" {retry_after} " in f" {text} " and "Minute" not in text and "minute" not in text
    back = soup.find("a", string=["Back to sign-in", "Zurück zur Anmeldung"])
    assert unquote(back["href"]) == "/sign-in?next=/account"  # the form it came from, with its next
    if lang == "en":
        assert f"Too many failed attempts. Please wait {retry_after} seconds and try again." in text


def test_a_longer_lockout_is_said_in_minutes(make_app, make_account):
    app = make_app(THROTTLE_BASE_SECONDS=600)
    account = make_account()
    browser = Browser(app.test_client())
    browser.get("/sign-in?lang=en")
    response = _lock_out(browser, account["email"])
    minutes = ceil(int(response.headers["Retry-After"]) / 60)
    assert minutes > 1
    assert f"Please wait {minutes} minutes and try again." in _main_text(response)


def _over_the_forgot_password_limit(make_app, lang):
    """Post the forgot-password form 11 times (10 per hour); return the answer to the 11th.

    Posts only, without a CSRF round trip: a GET could meet a default limit another test's app left
    on the process-wide limiter, while these posts meet the view's own limit.
    """
    app = make_app(RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    answers = [client.post(f"/forgot-password?lang={lang}", data={"email": f"x{number}@example.org"})
               for number in range(11)]
    assert [answer.status_code for answer in answers] == [200] * 10 + [429]
    return answers[-1]


def test_forgot_password_limit_says_the_hour_it_lasts_and_leads_back_to_the_form(make_app):
    """10 per hour: Retry-After is nearly an hour, and so is what the page says (it said "a moment")."""
    response = _over_the_forgot_password_limit(make_app, "en")
    soup = check_page(response, 429)
    minutes = ceil(int(response.headers["Retry-After"]) / 60)
    assert minutes >= 59
    assert f"Too many requests. Please wait {minutes} minutes and try again." in _main_text(response)
    assert soup.find("a", string="Back to the form")["href"] == "/forgot-password?lang=en"


def test_german_limit_page_speaks_of_the_real_wait(make_app):
    response = _over_the_forgot_password_limit(make_app, "de")
    minutes = ceil(int(response.headers["Retry-After"]) / 60)
    text = _main_text(response)
    assert "einen Moment" not in text and "a moment" not in text
    assert f" {minutes} " in text


def test_without_a_form_to_return_to_the_sign_in_is_offered(app):
    """A limit on a plain page (an operator's RATELIMIT_DEFAULT) has no form to go back to."""
    from buergerkonto.idp.app import back_link

    with app.test_request_context("/register?lang=en"), force_locale("en"):
        assert back_link() == {"url": "/sign-in", "label": "Back to sign-in"}
    with app.test_request_context("/session/keep-alive", method="POST"), force_locale("en"):
        assert back_link() == {"url": "/sign-in", "label": "Back to sign-in"}
    with app.test_request_context("/account/sessions/abc/end", method="POST"), force_locale("en"):
        assert back_link() == {"url": "/account", "label": "Back to the form"}
