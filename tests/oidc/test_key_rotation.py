"""Signing keys: stored encrypted, rotated by the CLI, old keys published until their tokens expire."""

import base64
import json
from datetime import timedelta
from urllib.parse import urlencode

from joserfc import jwt

LOGOUT_TARGET = "https://portal.example/logged-out"


def test_first_key_is_created_automatically_and_private_part_is_encrypted(rp, citizen, app):
    from buergerkonto.idp.oidc.models import SigningKey

    rp.tokens()
    with app.app_context():
        keys = SigningKey.query.all()
        assert {k.alg for k in keys} == {"ES256", "RS256"}
        for key in keys:
            assert '"d"' not in key.private_jwk and "d" not in key.public_jwk


def test_rotation_keeps_old_tokens_verifiable_and_signs_with_new_key(rp, citizen, runner, client):
    old_token = rp.tokens()["id_token"]
    old_kid = jwt.decode(old_token, rp.jwks()).header["kid"]
    result = runner.invoke(args=["keys", "rotate", "--json"])
    assert result.exit_code == 0, result.output
    jwks = rp.jwks()
    assert old_kid in [k.kid for k in jwks.keys]
    jwt.decode(old_token, jwks)  # still verifies
    new_kid = jwt.decode(rp.tokens()["id_token"], rp.jwks()).header["kid"]
    assert new_kid != old_kid


def _retire_earlier(app, delta):
    """Move the retired keys' retirement ``delta`` into the past (as if rotated that long ago)."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import SigningKey

    with app.app_context():
        for key in SigningKey.query.filter_by(active=False):
            key.retired_at -= delta
        db.session.commit()


def _kid(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]


def _stored(app, kid):
    from buergerkonto.idp.oidc.models import SigningKey

    with app.app_context():
        return SigningKey.query.filter_by(kid=kid).first() is not None


def test_retired_key_leaves_the_jwks_after_the_publish_window_but_stays_for_hints(rp, citizen, runner, app):
    old_kid = jwt.decode(rp.tokens()["id_token"], rp.jwks()).header["kid"]
    runner.invoke(args=["keys", "rotate"])
    _retire_earlier(app, timedelta(days=1))
    assert old_kid not in [k.kid for k in rp.jwks().keys]
    runner.invoke(args=["keys", "rotate"])
    assert _stored(app, old_kid)  # a portal's sign-in from before may still send an ID token it signed


def test_retired_key_is_purged_once_no_sign_in_it_signed_for_can_last(rp, citizen, runner, app):
    old_kid = jwt.decode(rp.tokens()["id_token"], rp.jwks()).header["kid"]
    runner.invoke(args=["keys", "rotate"])
    lifetime = max(app.config["SESSION_ABSOLUTE_TIMEOUT"], timedelta(seconds=app.config["OIDC_REFRESH_TOKEN_LIFETIME"]))
    _retire_earlier(app, lifetime - timedelta(hours=1))
    runner.invoke(args=["keys", "rotate"])
    assert _stored(app, old_kid)
    _retire_earlier(app, timedelta(hours=2))
    runner.invoke(args=["keys", "rotate"])
    assert not _stored(app, old_kid)


def test_the_daily_purge_removes_retired_keys_past_the_hint_window_too(rp, citizen, runner, app):
    # Keys rotate rarely; the daily purge must not leave retired keys for ever meanwhile.
    old_kid = jwt.decode(rp.tokens()["id_token"], rp.jwks()).header["kid"]
    runner.invoke(args=["keys", "rotate"])
    lifetime = max(app.config["SESSION_ABSOLUTE_TIMEOUT"], timedelta(seconds=app.config["OIDC_REFRESH_TOKEN_LIFETIME"]))
    _retire_earlier(app, lifetime - timedelta(hours=1))
    assert runner.invoke(args=["purge"]).exit_code == 0
    assert _stored(app, old_kid)
    _retire_earlier(app, timedelta(hours=2))
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0 and "retired signing keys" in result.output
    assert not _stored(app, old_kid)
    assert jwt.decode(rp.tokens()["id_token"], rp.jwks()).header["kid"] != old_kid  # the active key stays


def test_logout_with_an_id_token_signed_by_a_key_no_longer_published(make_rp, citizen, browser, runner, app):
    rp = make_rp(post_logout_redirect_uris=[LOGOUT_TARGET])
    id_token = rp.tokens("openid")["id_token"]
    runner.invoke(args=["keys", "rotate"])
    _retire_earlier(app, timedelta(hours=1))  # the portal's session is an hour old
    assert _kid(id_token) not in [k.kid for k in rp.jwks().keys]
    response = browser.get("/end-session?" + urlencode({"id_token_hint": id_token,
                                                        "post_logout_redirect_uri": LOGOUT_TARGET}))
    assert response.status_code == 302 and response.headers["Location"] == LOGOUT_TARGET
    assert browser.get("/account").status_code == 302  # signed out


def test_prompt_none_with_a_hint_signed_by_a_key_no_longer_published(rp, citizen, runner, app):
    id_token = rp.tokens("openid")["id_token"]
    runner.invoke(args=["keys", "rotate"])
    _retire_earlier(app, timedelta(hours=1))
    assert _kid(id_token) not in [k.kid for k in rp.jwks().keys]
    result = rp.callback(rp.authorize("openid", prompt="none", id_token_hint=id_token))
    assert "code" in result, result


def test_keys_are_shared_by_app_instances(rp, citizen, make_app):
    from joserfc.jwk import KeySet

    token = rp.tokens()["id_token"]
    jwks = make_app().test_client().get("/oauth/jwks").get_json()
    jwt.decode(token, KeySet.import_key_set(jwks))
