"""Signing keys: stored encrypted, rotated by the CLI, old keys published until their tokens expire."""

from datetime import timedelta

from joserfc import jwt


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


def test_retired_key_leaves_the_jwks_after_the_publish_window(rp, citizen, runner, app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import SigningKey

    old_kid = jwt.decode(rp.tokens()["id_token"], rp.jwks()).header["kid"]
    runner.invoke(args=["keys", "rotate"])
    with app.app_context():
        for key in SigningKey.query.filter_by(active=False):
            key.retired_at -= timedelta(days=1)
        db.session.commit()
    assert old_kid not in [k.kid for k in rp.jwks().keys]
    runner.invoke(args=["keys", "rotate"])
    with app.app_context():
        assert SigningKey.query.filter_by(kid=old_kid).first() is None  # purged


def test_keys_are_shared_by_app_instances(rp, citizen, make_app):
    from joserfc.jwk import KeySet

    token = rp.tokens()["id_token"]
    jwks = make_app().test_client().get("/oauth/jwks").get_json()
    jwt.decode(token, KeySet.import_key_set(jwks))
