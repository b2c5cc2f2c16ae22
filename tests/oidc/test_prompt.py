"""prompt=none|login|consent|select_account (OIDC Core §3.1.2.1)."""


def test_prompt_none_without_session_returns_login_required(rp, browser):
    result = rp.callback(rp.authorize(prompt="none"))
    assert result["error"] == "login_required" and result["iss"] == "http://localhost"
    assert result["state"] == rp.state and "code" not in result


def test_prompt_none_with_session_issues_code_silently(rp, citizen):
    result = rp.callback(rp.authorize(prompt="none"))
    assert "code" in result


def test_prompt_none_combined_with_other_values_is_invalid(rp, citizen):
    result = rp.callback(rp.authorize(prompt="none login"))
    assert result["error"] == "invalid_request"


def test_unknown_prompt_value_is_invalid(rp, citizen):
    assert rp.callback(rp.authorize(prompt="bogus"))["error"] == "invalid_request"


def test_prompt_login_forces_a_new_sign_in_and_later_auth_time(rp, browser, citizen, app):
    from datetime import timedelta

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        for record in WebSession.query.filter(WebSession.authenticated_at.isnot(None)):
            record.authenticated_at -= timedelta(minutes=5)
        db.session.commit()
    first = rp.id_token(rp.tokens()["id_token"])
    response = browser.get(rp.authorize_url(prompt="login"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"], {"email": citizen["email"], "password": citizen["password"]})
    result = rp.callback(browser.follow(done))
    tokens = rp.redeem(result["code"]).get_json()
    second = rp.id_token(tokens["id_token"])
    assert second["auth_time"] > first["auth_time"]


def test_prompt_login_without_a_session_asks_for_the_password_once(rp, browser, make_account):
    # Signing in is what prompt=login asks for: the citizen who had no session is not asked twice.
    account = make_account()
    response = browser.get(rp.authorize_url(prompt="login"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"], {"email": account["email"], "password": account["password"]})
    result = rp.callback(browser.follow(done))
    assert "code" in result, result


def test_prompt_consent_shows_consent_page_even_for_member_portal(rp, citizen):
    page = rp.authorize(prompt="consent", consent=None)
    assert page.status_code == 200 and rp.is_consent_page(page)
    result = rp.callback(rp.decide(page, "allow"))
    assert "code" in result


def test_declining_consent_returns_access_denied(make_rp, citizen):
    rp = make_rp(external=True)
    page = rp.authorize("openid email", consent=None)
    assert rp.is_consent_page(page)
    result = rp.callback(rp.decide(page, "deny"))
    assert result["error"] == "access_denied" and "code" not in result and result["iss"]


def test_external_portal_asks_consent_once_then_remembers(make_rp, citizen):
    rp = make_rp(external=True)
    page = rp.authorize("openid email", consent=None)
    assert rp.is_consent_page(page)
    assert "code" in rp.callback(rp.decide(page, "allow"))
    assert "code" in rp.callback(rp.authorize("openid email", consent=None))
    # A new scope needs a new consent.
    assert rp.is_consent_page(rp.authorize("openid email phone", consent=None))


def test_consent_given_after_the_session_idled_out_says_so(make_rp, citizen, app):
    from datetime import timedelta

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    rp = make_rp(external=True)
    page = rp.authorize("openid email", consent=None)
    assert rp.is_consent_page(page)
    with app.app_context():
        for record in WebSession.query.filter(WebSession.ended_at.is_(None)):
            record.last_seen_at -= timedelta(minutes=31)  # the citizen left the page standing
        db.session.commit()
    answer = rp.decide(page, "allow")
    assert answer.status_code == 400
    soup = rp.browser.soup(answer)
    assert "abgelaufen" in soup.h1.get_text()
    # Signing in again leads to the account page: the portal's request is gone with the session.
    assert soup.select_one("main a[href='/sign-in']") is not None


def test_prompt_none_at_external_portal_without_consent_is_consent_required(make_rp, citizen):
    rp = make_rp(external=True)
    assert rp.callback(rp.authorize("openid email", prompt="none"))["error"] == "consent_required"


def test_prompt_none_drops_offline_access_without_consent(rp, citizen):
    code = rp.code("openid offline_access", prompt="none")
    tokens = rp.redeem(code).get_json()
    assert "refresh_token" not in tokens and "offline_access" not in tokens["scope"]


def test_consent_form_without_csrf_token_is_refused(make_rp, citizen, browser):
    rp = make_rp(external=True)
    page = rp.authorize("openid email", consent=None)
    action = browser.soup(page).select_one("form")["action"]
    response = browser.post(action, data={"decision": "allow"})
    assert response.status_code == 400
    assert rp.is_consent_page(rp.authorize("openid email", consent=None))


# --- select_account ----------------------------------------------------------------------------


def _is_account_chooser(rp, response) -> bool:
    return response.status_code == 200 and rp.browser.soup(response).select_one(
        "form[action*='/authorize/decide/'] input[name=decision][value=this-account]") is not None


def test_prompt_select_account_lets_the_signed_in_citizen_continue(rp, citizen):
    before = rp.id_token(rp.tokens()["id_token"])
    page = rp.authorize(prompt="select_account")
    assert _is_account_chooser(rp, page)
    assert citizen["email"] in page.get_data(as_text=True)
    result = rp.callback(rp.decide(page, "this-account"))
    after = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert after["sub"] == before["sub"] and after["auth_time"] == before["auth_time"]


def test_prompt_select_account_signs_out_for_another_account(rp, browser, citizen, make_account, app):
    from buergerkonto.idp.models import WebSession

    first = rp.id_token(rp.tokens()["id_token"])
    other = make_account()
    page = rp.authorize(prompt="select_account")
    assert _is_account_chooser(rp, page)
    sign_in_page = rp.decide(page, "other-account")
    assert sign_in_page.status_code == 200 and browser.soup(sign_in_page).select_one("input[name=password]")
    with app.app_context():
        # The first citizen's sign-in ended (and its portals are told, as at any sign-out).
        assert WebSession.query.filter(WebSession.account_id.isnot(None), WebSession.ended_at.is_(None)).count() == 0
    done = browser.submit_page(sign_in_page, {"email": other["email"], "password": other["password"]})
    result = rp.callback(browser.follow(done))  # the choice is made: no second chooser
    second = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert second["sub"] != first["sub"]


def test_prompt_select_account_without_a_session_is_the_sign_in(rp, browser, make_account):
    account = make_account()
    response = browser.get(rp.authorize_url(prompt="select_account"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"], {"email": account["email"], "password": account["password"]})
    assert "code" in rp.callback(browser.follow(done))


def test_prompt_select_account_with_none_is_invalid(rp, citizen):
    assert rp.callback(rp.authorize(prompt="none select_account"))["error"] == "invalid_request"


def test_the_account_chooser_refuses_a_decision_without_csrf_token(rp, browser, citizen, app):
    from buergerkonto.idp.models import WebSession

    page = rp.authorize(prompt="select_account")
    action = browser.soup(page).select_one("form")["action"]
    assert browser.post(action, data={"decision": "other-account"}).status_code == 400
    with app.app_context():
        assert WebSession.query.filter(WebSession.account_id.isnot(None), WebSession.ended_at.is_(None)).count() == 1
