"""A citizen's access tokens end with the sign-in they came from (README, "Access tokens").

Every way a session ends takes the same path (``session_ended`` hook): sign-out here, at a
portal (RP-initiated logout), "sign out everywhere", a password change. Refresh tokens of
``offline_access`` grants outlive the sign-in (Back-Channel Logout 1.0 §2.7).
"""

from urllib.parse import urlencode

from support.browser import Browser
from support.plugin import sign_in
from support.relying_party import RelyingParty

NEW_PASSWORD = "Ganz-neues-Passwort-2026"
LOGOUT_TARGET = "https://portal.example/logged-out"


def _introspect(rp, token):
    return rp.http.post("/oauth/introspect", data={"token": token}, headers=rp.basic_auth()).get_json()


def _second_device(app, account) -> Browser:
    phone = Browser(app.test_client())
    assert sign_in(phone, account["email"], account["password"]).status_code == 302
    return phone


def test_access_token_ends_when_the_citizen_signs_out(rp, citizen, browser):
    tokens = rp.tokens("openid email")
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    browser.submit("/sign-out", {})
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert _introspect(rp, tokens["access_token"]) == {"active": False}


def test_access_token_ends_at_logout_started_by_the_portal(make_rp, citizen, browser):
    rp = make_rp(post_logout_redirect_uris=[LOGOUT_TARGET])
    tokens = rp.tokens("openid")
    response = browser.get("/end-session?" + urlencode({"id_token_hint": tokens["id_token"],
                                                        "post_logout_redirect_uri": LOGOUT_TARGET}))
    assert response.status_code == 302
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_sign_out_everywhere_ends_the_access_tokens_of_every_session(app, make_rp, citizen, browser):
    rp = make_rp()
    phone = _second_device(app, citizen)
    on_phone = RelyingParty(rp.http, phone, rp.reg).tokens("openid")
    here = rp.tokens("openid")
    page = browser.get("/account")
    assert browser.submit_page(page, {}, selector="form[action='/account/sessions/end-all']").status_code == 302
    assert rp.userinfo(here["access_token"]).status_code == 401
    assert rp.userinfo(on_phone["access_token"]).status_code == 401


def test_password_change_ends_the_access_tokens_of_the_other_sessions(app, make_rp, citizen, browser):
    rp = make_rp()
    phone = _second_device(app, citizen)
    on_phone = RelyingParty(rp.http, phone, rp.reg).tokens("openid")
    here = rp.tokens("openid")
    assert browser.submit("/account/password", {"current_password": citizen["password"], "password": NEW_PASSWORD,
                                                "password_repeat": NEW_PASSWORD}).status_code == 302
    assert rp.userinfo(on_phone["access_token"]).status_code == 401
    assert rp.userinfo(here["access_token"]).status_code == 200  # this session goes on


def test_signing_out_one_session_leaves_the_tokens_of_another(app, make_rp, citizen, browser):
    rp = make_rp()
    phone = _second_device(app, citizen)
    on_phone = RelyingParty(rp.http, phone, rp.reg).tokens("openid")
    rp.tokens("openid")
    browser.submit("/sign-out", {})
    assert rp.userinfo(on_phone["access_token"]).status_code == 200


def test_offline_access_refresh_token_outlives_the_sign_out(rp, citizen, browser):
    tokens = rp.tokens("openid offline_access")
    browser.submit("/sign-out", {})
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    assert rp.userinfo(refreshed.get_json()["access_token"]).status_code == 200


def test_citizen_tokens_of_a_portal_with_jwt_access_tokens_are_stored_and_end_at_sign_out(make_rp, citizen,
                                                                                         browser):
    # The format applies to the portal's own (client-credentials) tokens only: a citizen's token
    # is opaque and stored, so that it can end with the sign-in.
    rp = make_rp(access_token_format="jwt")
    tokens = rp.tokens("openid")
    assert "." not in tokens["access_token"]
    browser.submit("/sign-out", {})
    assert rp.userinfo(tokens["access_token"]).status_code == 401
