"""Codes are single use: a second redemption fails and revokes what the first one issued."""

import time


def test_second_redemption_is_refused_and_revokes_first_tokens(rp, citizen):
    code = rp.code("openid email offline_access")
    first = rp.redeem(code)
    assert first.status_code == 200
    tokens = first.get_json()
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    second = rp.redeem(code)
    assert second.status_code == 400 and second.get_json()["error"] == "invalid_grant"
    assert "access_token" not in second.get_json()
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_code_expires_after_sixty_seconds(rp, citizen, app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import AuthorizationCode

    code = rp.code()
    with app.app_context():
        AuthorizationCode.query.update({"issued_at": int(time.time()) - 61})
        db.session.commit()
    response = rp.redeem(code)
    assert response.get_json()["error"] == "invalid_grant"


def test_code_of_a_citizen_who_signed_in_long_ago_still_works(rp, citizen, app):
    """The Authlib mixin would count from auth_time; the code lives 60 s from its issue."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import WebSession
    from datetime import timedelta

    with app.app_context():
        for record in WebSession.query.all():
            if record.authenticated_at:
                record.authenticated_at -= timedelta(minutes=20)
        db.session.commit()
    assert rp.redeem(rp.code()).status_code == 200


def test_code_is_bound_to_client_and_redirect_uri(rp, make_rp, citizen):
    code = rp.code()
    other = make_rp(name="Other portal")
    other.verifier = rp.verifier
    assert other.redeem(code).get_json()["error"] == "invalid_grant"
    response = rp.redeem(code, redirect_uri="https://portal.example/other")
    assert response.get_json()["error"] == "invalid_grant"
    assert rp.redeem(code).status_code == 200


def test_codes_are_stored_hashed(rp, citizen, app):
    from buergerkonto.idp.oidc.models import AuthorizationCode, Token

    code = rp.code()
    tokens = rp.redeem(code).get_json()
    with app.app_context():
        assert AuthorizationCode.query.filter_by(code=code).first() is None
        assert Token.query.filter_by(access_token=tokens["access_token"]).first() is None
