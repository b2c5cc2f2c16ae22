"""max_age forces a fresh password entry when the sign-in is older (OIDC Core §3.1.2.1)."""

import time
from datetime import timedelta


def _age_session(app, minutes):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        for record in WebSession.query.filter(WebSession.authenticated_at.isnot(None)):
            record.authenticated_at -= timedelta(minutes=minutes)
        db.session.commit()


def test_recent_sign_in_satisfies_max_age(rp, citizen):
    claims = rp.id_token(rp.tokens(max_age="600")["id_token"])
    assert claims["auth_time"] >= time.time() - 600


def test_old_sign_in_must_enter_password_again(rp, browser, citizen, app):
    _age_session(app, 20)
    response = browser.get(rp.authorize_url(max_age="300"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"], {"email": citizen["email"], "password": citizen["password"]})
    result = rp.callback(browser.follow(done))
    claims = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert claims["auth_time"] >= time.time() - 60


def test_old_sign_in_with_prompt_none_is_login_required(rp, citizen, app):
    _age_session(app, 20)
    assert rp.callback(rp.authorize(max_age="300", prompt="none"))["error"] == "login_required"


def test_malformed_max_age_is_invalid_request(rp, citizen):
    for value in ("-1", "abc", "1e3", "9" * 20):
        assert rp.callback(rp.authorize(max_age=value))["error"] == "invalid_request", value
