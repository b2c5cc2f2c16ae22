"""Client authentication at the token endpoint: basic, post, private_key_jwt, none; secrets hashed."""

import base64
import json
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from support.relying_party import ISSUER

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_secret_is_stored_hashed(portal, app):
    from buergerkonto.idp.oidc.models import Client

    with app.app_context():
        stored = Client.query.filter_by(client_id=portal["client_id"]).one().client_secret
    assert portal["client_secret"] not in stored and stored.startswith("hmac-sha256$")


def test_client_secret_post_works_for_a_post_client(make_rp, citizen):
    rp = make_rp(token_endpoint_auth_method="client_secret_post")
    code = rp.code()
    response = rp.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier, "client_id": rp.client_id, "client_secret": rp.secret})
    assert response.status_code == 200


def test_basic_client_cannot_switch_to_post(rp, citizen):
    code = rp.code()
    response = rp.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier, "client_id": rp.client_id, "client_secret": rp.secret})
    assert response.get_json()["error"] == "invalid_client"


def test_wrong_secret_is_invalid_client_and_issues_nothing(rp, citizen):
    code = rp.code()
    rp.secret = "wrong"
    response = rp.redeem(code)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert "access_token" not in response.get_json()


def test_confidential_client_cannot_pretend_to_be_public(rp, citizen):
    code = rp.code()
    response = rp.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier, "client_id": rp.client_id})
    assert response.get_json()["error"] == "invalid_client"


@pytest.fixture
def key_rp(make_rp):
    key = ECKey.generate_key("P-256", private=True)
    public = dict(key.as_dict(private=False), kid="k1", alg="ES256", use="sig")
    rp = make_rp(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [public]})
    rp.key = key
    return rp


def assertion(rp, key=None, **override):
    now = int(time.time())
    claims = {"iss": rp.client_id, "sub": rp.client_id, "aud": ISSUER,
              "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    claims.update(override)
    return jwt.encode({"alg": "ES256", "kid": "k1"}, claims, key or rp.key)


def _redeem_with_assertion(rp, code, value):
    return rp.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier, "client_assertion_type": ASSERTION, "client_assertion": value})


def test_private_key_jwt_authenticates(key_rp, citizen):
    code = key_rp.code()
    response = _redeem_with_assertion(key_rp, code, assertion(key_rp))
    assert response.status_code == 200, response.get_json()
    key_rp.id_token(response.get_json()["id_token"])


def test_private_key_jwt_replayed_assertion_is_refused(key_rp, citizen):
    value = assertion(key_rp)
    assert _redeem_with_assertion(key_rp, key_rp.code(), value).status_code == 200
    assert _redeem_with_assertion(key_rp, key_rp.code(), value).get_json()["error"] == "invalid_client"


def test_an_assertion_may_name_the_issuer_in_a_list_of_one(key_rp, citizen):
    response = _redeem_with_assertion(key_rp, key_rp.code(), assertion(key_rp, aud=[ISSUER]))
    assert response.status_code == 200, response.get_json()


# RFC 10070: the issuer identifier, alone. An assertion naming the token endpoint's URL is what an
# authorization server under an attacker's control, giving that URL as its own endpoint, would
# collect from a portal that signs in there too, and bring here.
@pytest.mark.parametrize("audience", [ISSUER + "/oauth/token", [ISSUER, ISSUER + "/oauth/token"],
                                      [ISSUER, "https://elsewhere.example"], ISSUER + "/", []])
def test_an_assertion_for_any_audience_but_the_issuer_alone_is_refused(key_rp, citizen, app, audience):
    value = assertion(key_rp, aud=audience)
    response = _redeem_with_assertion(key_rp, key_rp.code(), value)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client"
    assert "issuer identifier alone" in response.get_json()["error_description"]
    # The refusal did not spend its jti: the portal may not have meant it for us at all.
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import ClientAssertionJti

    with app.app_context():
        assert db.session.query(ClientAssertionJti).count() == 0
        db.session.remove()


@pytest.mark.parametrize("override", [{"aud": "https://elsewhere.example/token"},
                                      {"exp": int(time.time()) - 300},
                                      {"exp": int(time.time()) + 86400},
                                      {"iss": "someone-else"}])
def test_private_key_jwt_bad_claims_are_refused(key_rp, citizen, override):
    response = _redeem_with_assertion(key_rp, key_rp.code(), assertion(key_rp, **override))
    assert response.get_json()["error"] == "invalid_client"


def test_private_key_jwt_signed_by_another_key_is_refused(key_rp, citizen):
    other = ECKey.generate_key("P-256", private=True)
    response = _redeem_with_assertion(key_rp, key_rp.code(), assertion(key_rp, key=other))
    assert response.get_json()["error"] == "invalid_client"


def test_private_key_jwt_with_alg_none_is_refused(key_rp, citizen):
    now = int(time.time())
    claims = {"iss": key_rp.client_id, "sub": key_rp.client_id, "aud": ISSUER,
              "exp": now + 60, "jti": "x"}
    parts = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode() for p in ({"alg": "none"}, claims)]
    response = _redeem_with_assertion(key_rp, key_rp.code(), ".".join(parts) + ".")
    assert response.status_code in (400, 401) and response.get_json()["error"] == "invalid_client"


def _signing_key(alg):
    return ECKey.generate_key("P-256", private=True) if alg.startswith("ES") else RSAKey.generate_key(2048, private=True)


def _rp_with_key(make_rp, key):
    return make_rp(token_endpoint_auth_method="private_key_jwt",
                   jwks={"keys": [dict(key.as_dict(private=False), kid="k1", use="sig")]})


def _signed_assertion(rp, key, alg):
    now = int(time.time())
    claims = {"iss": rp.client_id, "sub": rp.client_id, "aud": ISSUER,
              "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key, algorithms=[alg])


def test_every_assertion_algorithm_discovery_advertises_is_accepted(make_rp, client, citizen):
    advertised = client.get("/.well-known/openid-configuration").get_json()[
        "token_endpoint_auth_signing_alg_values_supported"]
    assert "PS256" in advertised
    for alg in advertised:
        key = _signing_key(alg)
        rp = _rp_with_key(make_rp, key)
        response = _redeem_with_assertion(rp, rp.code(), _signed_assertion(rp, key, alg))
        assert response.status_code == 200, (alg, response.get_json())


@pytest.mark.parametrize("alg", ["PS384", "RS512", "ES384"])
def test_assertion_signed_with_an_algorithm_discovery_does_not_advertise_is_refused(make_rp, citizen, alg):
    key = ECKey.generate_key("P-384", private=True) if alg == "ES384" else _signing_key(alg)
    rp = _rp_with_key(make_rp, key)
    response = _redeem_with_assertion(rp, rp.code(), _signed_assertion(rp, key, alg))
    assert response.get_json()["error"] == "invalid_client"


class PortalKeys:
    """A portal's JWKS on loopback HTTP that counts its fetches and can rotate its key."""

    def __init__(self):
        import threading

        from werkzeug.serving import make_server
        from werkzeug.wrappers import Response

        self.fetches = 0
        self.rotate("k1")

        def application(environ, start_response):
            self.fetches += 1
            return Response(json.dumps({"keys": [self.public]}), mimetype="application/json")(environ, start_response)

        self.server = make_server("127.0.0.1", 0, application)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rotate(self, kid):
        self.kid, self.key = kid, ECKey.generate_key("P-256", private=True)
        self.public = dict(self.key.as_dict(private=False), kid=kid, alg="ES256")

    def assertion(self, rp, kid=None, key=None):
        now = int(time.time())
        claims = {"iss": rp.client_id, "sub": rp.client_id, "aud": ISSUER,
                  "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
        return jwt.encode({"alg": "ES256", "kid": kid or self.kid}, claims, key or self.key)


@pytest.fixture
def portal_keys():
    keys = PortalKeys()
    yield keys
    keys.server.shutdown()


def test_private_key_jwt_via_jwks_uri_on_loopback(make_rp, citizen, portal_keys):
    rp = make_rp(token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_keys.uri)
    for _ in range(3):
        response = _redeem_with_assertion(rp, rp.code(), portal_keys.assertion(rp))
        assert response.status_code == 200, response.get_json()
    assert portal_keys.fetches == 1  # kept, not fetched for every token request


def test_a_rotated_portal_key_is_fetched_when_its_kid_appears(make_rp, citizen, portal_keys, monkeypatch):
    from buergerkonto.idp.oidc import client_keys

    rp = make_rp(token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_keys.uri)
    assert _redeem_with_assertion(rp, rp.code(), portal_keys.assertion(rp)).status_code == 200
    portal_keys.rotate("k2")
    monkeypatch.setattr(client_keys, "REFETCH_SECONDS", 0)  # the kept set is "old enough" at once
    response = _redeem_with_assertion(rp, rp.code(), portal_keys.assertion(rp))
    assert response.status_code == 200, response.get_json()
    assert portal_keys.fetches == 2


def test_made_up_kids_do_not_make_the_provider_fetch_again_and_again(make_rp, citizen, portal_keys):
    rp = make_rp(token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_keys.uri)
    assert _redeem_with_assertion(rp, rp.code(), portal_keys.assertion(rp)).status_code == 200
    stranger = ECKey.generate_key("P-256", private=True)
    for n in range(5):
        response = _redeem_with_assertion(rp, rp.code(), portal_keys.assertion(rp, kid=f"made-up-{n}", key=stranger))
        assert response.get_json()["error"] == "invalid_client"
    assert portal_keys.fetches == 1


def test_without_keeping_a_withdrawn_portal_key_is_refused_at_once(app, make_rp, citizen, portal_keys):
    app.config["OIDC_CLIENT_JWKS_SECONDS"] = 0
    rp = make_rp(token_endpoint_auth_method="private_key_jwt", jwks_uri=portal_keys.uri)
    old_key = portal_keys.key
    assert _redeem_with_assertion(rp, rp.code(), portal_keys.assertion(rp)).status_code == 200
    portal_keys.rotate("k1")  # same kid, new key: the old one is withdrawn
    response = _redeem_with_assertion(rp, rp.code(), portal_keys.assertion(rp, key=old_key))
    assert response.get_json()["error"] == "invalid_client"
    assert portal_keys.fetches == 2


def test_client_credentials_grant_for_confidential_portals(rp, client):
    response = rp.token({"grant_type": "client_credentials", "scope": "openid email"})
    assert response.status_code == 200
    token = response.get_json()
    assert "refresh_token" not in token
    assert "email" not in token.get("scope", "") and "openid" not in token.get("scope", "")
    assert client.get("/oauth/userinfo", headers={"Authorization": "Bearer " + token["access_token"]}).status_code in (401, 403)


def test_public_client_cannot_use_client_credentials(make_rp):
    rp = make_rp(public=True)
    response = rp.token({"grant_type": "client_credentials"})
    assert response.get_json()["error"] in ("invalid_client", "unauthorized_client")


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer", ""])
def test_unsupported_grants_are_refused(rp, grant_type):
    response = rp.token({"grant_type": grant_type, "username": "a", "password": "b"})
    assert response.status_code == 400 and response.get_json()["error"] in ("unsupported_grant_type",
                                                                              "invalid_request")
