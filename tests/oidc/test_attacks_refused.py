"""Attacks on the provider, each refused: framing, caching, tokens in bodies, cross-portal hints and tokens, logout redirects."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest

LOGOUT_TARGET = "https://portal.example/logged-out"


def _signed_in(browser):
    return browser.get("/account").status_code == 200


def _frame_protected(response):
    csp = response.headers.get("Content-Security-Policy", "")
    return response.headers.get("X-Frame-Options") == "DENY" and "frame-ancestors 'none'" in csp


def test_sign_in_consent_step_up_and_logout_pages_cannot_be_framed(make_rp, browser, make_account):
    rp = make_rp(external=True)
    sign_in_page = browser.follow(browser.get(rp.authorize_url("openid email")))
    assert sign_in_page.status_code == 200 and _frame_protected(sign_in_page)
    account = make_account()
    consent = browser.submit_page(sign_in_page, {"email": account["email"], "password": account["password"]},
                                  follow=True)
    assert rp.is_consent_page(consent) and _frame_protected(consent)
    step_up = rp.authorize("openid", consent=None, acr_values="http://eidas.europa.eu/LoA/high")
    assert step_up.status_code == 200 and _frame_protected(step_up)
    confirm = browser.get("/end-session")
    assert confirm.status_code == 200 and _frame_protected(confirm)


def test_token_and_error_responses_are_not_cached(rp, citizen):
    code = rp.code()
    ok = rp.redeem(code)
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "no-store"
    again = rp.redeem(code)
    assert again.status_code == 400 and again.headers["Cache-Control"] == "no-store"
    info = rp.userinfo(ok.get_json()["access_token"])
    assert info.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in ok.headers and "Access-Control-Allow-Origin" not in info.headers


def test_userinfo_refuses_a_token_in_the_form_body(rp, citizen):
    token = rp.tokens()["access_token"]
    response = rp.http.post("/oauth/userinfo", data={"access_token": token})
    assert response.status_code == 400


def test_prompt_none_after_the_session_idled_out_is_login_required(rp, citizen, app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        for record in WebSession.query.filter(WebSession.ended_at.is_(None)):
            record.last_seen_at -= timedelta(minutes=31)
        db.session.commit()
    assert rp.callback(rp.authorize(prompt="none"))["error"] == "login_required"


def test_id_token_of_portal_a_is_no_hint_at_portal_b(make_rp, citizen):
    a = make_rp(name="A", redirect_uris=("https://a.example/cb",))
    b = make_rp(name="B", redirect_uris=("https://b.example/cb",))
    hint = a.tokens()["id_token"]
    result = b.callback(b.authorize(prompt="none", id_token_hint=hint))
    assert result["error"] == "invalid_request" and "code" not in result


def test_end_session_with_client_id_alone_never_redirects(make_rp, citizen, browser):
    rp = make_rp(post_logout_redirect_uris=[LOGOUT_TARGET])
    response = browser.get("/end-session?" + urlencode({"client_id": rp.client_id,
                                                        "post_logout_redirect_uri": LOGOUT_TARGET}))
    assert response.status_code == 200 and _signed_in(browser)
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    response = browser.get("/end-session?" + urlencode({"client_id": rp.client_id,
                                                        "post_logout_redirect_uri": LOGOUT_TARGET}))
    assert "Location" not in response.headers


@pytest.mark.parametrize("variant", [LOGOUT_TARGET + "/", LOGOUT_TARGET.upper(), LOGOUT_TARGET + "?x=1",
                                     LOGOUT_TARGET + "#f", "https://portal.example/logged-out@evil.example"])
def test_post_logout_redirect_uri_is_compared_exactly(make_rp, citizen, browser, variant):
    rp = make_rp(post_logout_redirect_uris=[LOGOUT_TARGET])
    hint = rp.tokens()["id_token"]
    response = browser.get("/end-session?" + urlencode({"id_token_hint": hint, "post_logout_redirect_uri": variant}))
    assert "Location" not in response.headers


def test_hint_of_another_citizen_does_not_sign_out_without_asking(make_rp, make_account, citizen, browser, client,
                                                                   app):
    from support.browser import Browser
    from support.plugin import sign_in
    from support.relying_party import RelyingParty

    rp = make_rp(post_logout_redirect_uris=[LOGOUT_TARGET])
    other = make_account()
    attacker = Browser(app.test_client())
    sign_in(attacker, other["email"], other["password"])
    hint = RelyingParty(attacker.client, attacker, rp.reg).tokens()["id_token"]
    response = browser.get("/end-session?" + urlencode({"id_token_hint": hint,
                                                        "post_logout_redirect_uri": LOGOUT_TARGET}))
    assert response.status_code == 200 and "Location" not in response.headers and _signed_in(browser)


def test_refresh_token_ends_with_the_portal_and_the_account(rp, citizen, app, runner):
    tokens = rp.tokens("openid offline_access")
    result = runner.invoke(args=["clients", "delete", rp.client_id])
    assert result.exit_code == 0, result.output
    assert rp.refresh(tokens["refresh_token"]).status_code in (400, 401)


def test_introspection_and_revocation_by_another_portal_leave_the_token_alone(rp, make_rp, citizen):
    tokens = rp.tokens("openid offline_access")
    other = make_rp(name="Other", redirect_uris=("https://other.example/cb",))
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = other.http.post("/oauth/introspect", data={"token": token}, headers=other.basic_auth())
        assert answer.get_json() == {"active": False}
        other.http.post("/oauth/revoke", data={"token": token}, headers=other.basic_auth())
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    assert rp.refresh(tokens["refresh_token"]).status_code == 200


def test_client_credentials_token_is_no_good_at_userinfo_or_as_id_token_hint(rp, browser, citizen):
    token = rp.http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "openid"},
                         headers=rp.basic_auth()).get_json()["access_token"]
    assert rp.userinfo(token).status_code in (401, 403)
    response = browser.get("/end-session?" + urlencode({"id_token_hint": token, "client_id": rp.client_id}))
    assert response.status_code in (200, 400) and _signed_in(browser)
