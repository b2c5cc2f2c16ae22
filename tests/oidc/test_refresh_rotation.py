"""Refresh tokens: only with offline_access, rotated on use, replay revokes the whole grant."""

import time


def test_offline_access_gives_refresh_token_and_refresh_rotates(rp, citizen):
    tokens = rp.tokens("openid offline_access")
    first_claims = rp.id_token(tokens["id_token"])
    response = rp.refresh(tokens["refresh_token"])
    assert response.status_code == 200
    new = response.get_json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    claims = rp.id_token(new["id_token"], nonce=False)
    assert claims["auth_time"] == first_claims["auth_time"]
    assert claims["acr"] == first_claims["acr"] and claims["amr"] == first_claims["amr"]
    assert claims["sub"] == first_claims["sub"]
    assert rp.userinfo(new["access_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_family(rp, citizen):
    tokens = rp.tokens("openid offline_access")
    new = rp.refresh(tokens["refresh_token"]).get_json()
    replay = rp.refresh(tokens["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    # The legitimate successor is gone as well.
    assert rp.refresh(new["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(new["access_token"]).status_code == 401


def test_refresh_token_of_another_client_is_refused(rp, make_rp, citizen):
    tokens = rp.tokens("openid offline_access")
    other = make_rp(name="Other")
    assert other.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_refresh_cannot_widen_scope(rp, citizen):
    tokens = rp.tokens("openid offline_access")
    response = rp.refresh(tokens["refresh_token"], scope="openid offline_access email")
    assert response.get_json()["error"] == "invalid_scope"


def test_refresh_token_has_an_absolute_lifetime(rp, citizen, app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import Token

    tokens = rp.tokens("openid offline_access")
    new = rp.refresh(tokens["refresh_token"]).get_json()
    with app.app_context():
        rows = Token.query.all()
        assert len({row.refresh_expires_at for row in rows}) == 1  # rotation does not extend it
        for row in rows:
            row.refresh_expires_at = int(time.time()) - 1
        db.session.commit()
    assert rp.refresh(new["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_no_refresh_token_without_offline_access(rp, citizen):
    assert "refresh_token" not in rp.tokens("openid email")


def _introspect(rp, token):
    return rp.http.post("/oauth/introspect", data={"token": token}, headers=rp.basic_auth()).get_json()


def test_refresh_with_a_narrower_scope_narrows_the_access_token_only(rp, citizen):
    tokens = rp.tokens("openid email offline_access")
    narrow = rp.refresh(tokens["refresh_token"], scope="openid").get_json()
    assert narrow["scope"] == "openid" and narrow["refresh_token"] != tokens["refresh_token"]
    assert "email" not in rp.userinfo(narrow["access_token"]).get_json()
    # RFC 6749 §6: a new refresh token has the scope of the one presented, not the narrower one.
    assert set(_introspect(rp, narrow["refresh_token"])["scope"].split()) == {"openid", "email", "offline_access"}
    full = rp.refresh(narrow["refresh_token"]).get_json()
    assert set(full["scope"].split()) == {"openid", "email", "offline_access"}
    assert rp.userinfo(full["access_token"]).get_json()["email"] == citizen["email"]


def test_refresh_token_keeps_the_originally_granted_scope(rp, citizen):
    tokens = rp.tokens("openid email offline_access")
    narrow = rp.refresh(tokens["refresh_token"], scope="openid offline_access").get_json()
    assert set(narrow["scope"].split()) == {"openid", "offline_access"}
    full = rp.refresh(narrow["refresh_token"]).get_json()
    assert "email" in full["scope"].split()


def test_reusing_a_refresh_token_rotated_by_a_narrower_refresh_revokes_the_family(rp, citizen):
    tokens = rp.tokens("openid email offline_access")
    narrow = rp.refresh(tokens["refresh_token"], scope="openid").get_json()
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.refresh(narrow["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(narrow["access_token"]).status_code == 401
