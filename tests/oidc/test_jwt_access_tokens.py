"""RFC 9068 JWT access tokens for the client-credentials grant: issued, used, refused, revoked, introspected.

A portal registered with ``access_token_format = jwt`` (the default for new
ones) gets its own tokens as signed JWTs that are not stored; citizens' tokens
stay opaque. Every token here that the service did not issue as it stands -
forged, re-signed with other claims, expired, revoked, of a deleted portal -
must read as no token: the same 401 ``invalid_token`` as an unknown opaque
token, never a 500.
"""

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey

from support.relying_party import ISSUER

POSTBOX = ISSUER + "/api/postbox/v1"
MESSAGES = "/api/postbox/v1/messages"


def _grant(rp, scope="postbox.send"):
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return rp.token(data)


def _token(rp, scope="postbox.send") -> str:
    response = _grant(rp, scope)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def _send(rp, token: str, recipient: str = "unknown-recipient"):
    return rp.http.post(MESSAGES, json={"recipient": recipient, "subject": "Ihr Bescheid", "body": "Guten Tag."},
                        headers={"Authorization": f"Bearer {token}"})


def _sub(rp) -> str:
    """The citizen's pairwise ``sub`` at this portal (from an ID token of a code flow)."""
    return rp.id_token(rp.tokens("openid")["id_token"])["sub"]


def _introspect(rp, token: str, by=None) -> dict:
    response = rp.http.post("/oauth/introspect", data={"token": token}, headers=(by or rp).basic_auth())
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _refused(rp, token: str, why: str = "") -> None:
    """Refused like an unknown opaque token: 401 invalid_token at the API, inactive at introspection."""
    response = _send(rp, token)
    assert response.status_code == 401, (why, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json", why
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"], why
    assert _introspect(rp, token) == {"active": False}, why


def _segments(token: str) -> tuple[dict, dict]:
    def part(segment):
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))

    header, payload, _ = token.split(".")
    return part(header), part(payload)


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def es256(header: dict, claims: dict, key: ECKey) -> str:
    """A compact JWS signed with ``key`` over exactly this header, however odd (no library checks)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing_input = f"{_b64(header)}.{_b64(claims)}"
    r, s = decode_dss_signature(key.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@pytest.fixture
def sign(app):
    """``sign(claims, header=None, key=None)``: a token signed with the service's own active ES256 key
    (or ``key``), as only someone holding the key could make; ``header`` replaces parts of the header
    (a None value removes that part)."""
    from buergerkonto.idp.oidc import keys

    def make(claims, header=None, key=None):
        with app.app_context():
            key = key or keys.active_private_key("ES256")
        full = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
        full.update(header or {})
        return es256({k: v for k, v in full.items() if v is not None}, claims, key)

    return make


def _claims(rp, **changes) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": POSTBOX, "sub": rp.client_id, "client_id": rp.client_id, "iat": now,
              "exp": now + 300, "jti": "forged-" + str(now), "scope": "postbox.send"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


# --- issuing ---------------------------------------------------------------------------------

def test_a_new_portal_gets_a_signed_rfc9068_token_that_verifies_with_the_published_keys(rp):
    response = _grant(rp)
    body = response.get_json()
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["scope"] == "postbox.send"
    assert "refresh_token" not in body
    metadata = rp.http.get("/.well-known/openid-configuration").get_json()
    jwks = KeySet.import_key_set(rp.http.get(metadata["jwks_uri"].removeprefix(ISSUER)).get_json())
    token = jwt.decode(body["access_token"], jwks, algorithms=["ES256"])
    assert token.header["typ"] == "at+jwt" and token.header["alg"] == "ES256"
    assert token.header["kid"] in [key.kid for key in jwks.keys]
    claims = token.claims
    assert claims["iss"] == metadata["issuer"] and claims["aud"] == POSTBOX
    assert claims["sub"] == claims["client_id"] == rp.client_id
    assert claims["scope"] == "postbox.send" and claims["exp"] - claims["iat"] == body["expires_in"]
    assert len(claims["jti"]) >= 22
    assert _segments(_token(rp))[1]["jti"] != claims["jti"]


def test_without_api_scopes_the_token_is_for_the_provider_itself(rp):
    claims = _segments(_token(rp, scope=None))[1]
    assert claims["aud"] == ISSUER and claims["scope"] == ""


def test_a_jwt_access_token_is_not_stored(rp, app):
    from buergerkonto.idp.oidc.models import Token

    with app.app_context():
        before = Token.query.count()
    _token(rp)
    with app.app_context():
        assert Token.query.count() == before


def test_an_opaque_portal_still_gets_stored_opaque_tokens(make_rp, app):
    from buergerkonto.idp.oidc.models import Token, hash_token

    rp = make_rp(access_token_format="opaque")
    token = _token(rp)
    assert "." not in token
    with app.app_context():
        assert Token.query.filter_by(access_token=hash_token(token)).one().client_id == rp.client_id


def test_a_portal_registered_before_the_setting_keeps_opaque_tokens(rp, app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import Client

    with app.app_context():
        client = Client.query.filter_by(client_id=rp.client_id).one()
        metadata = dict(client.client_metadata)
        del metadata["access_token_format"]
        client.set_client_metadata(metadata)
        db.session.commit()
    assert "." not in _token(rp)


def test_citizens_tokens_stay_opaque_and_stored_for_a_jwt_portal(rp, citizen, app):
    from buergerkonto.idp.oidc.models import Token, hash_token

    tokens = rp.tokens("openid email offline_access")
    assert "." not in tokens["access_token"] and "." not in tokens["refresh_token"]
    with app.app_context():
        assert Token.query.filter_by(access_token=hash_token(tokens["access_token"])).one().account_id == citizen["id"]
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    refreshed = rp.refresh(tokens["refresh_token"]).get_json()
    assert "." not in refreshed["access_token"]
    assert rp.userinfo(refreshed["access_token"]).status_code == 200


# --- using -----------------------------------------------------------------------------------

def test_a_jwt_access_token_sends_to_the_postbox(rp, citizen):
    sub = _sub(rp)
    response = _send(rp, _token(rp), sub)
    assert response.status_code == 201, response.get_json()
    tokens = rp.tokens("openid postbox.read")  # the citizen reads it through the same portal
    listed = rp.http.get(MESSAGES, headers={"Authorization": "Bearer " + tokens["access_token"]}).get_json()
    assert [m["sender"]["client_id"] for m in listed["items"]] == [rp.client_id]


def test_a_jwt_for_the_provider_is_refused_by_the_postbox_as_wrong_audience(rp, citizen):
    token = _token(rp, scope=None)
    response = _send(rp, token, _sub(rp))
    assert response.status_code == 401 and "wrong audience" in response.headers["WWW-Authenticate"]


def test_a_portals_jwt_is_no_good_at_userinfo(rp):
    for scope in ("postbox.send", None):
        response = rp.userinfo(_token(rp, scope))
        assert response.status_code in (401, 403) and "sub" not in (response.get_json() or {})


# --- refusing --------------------------------------------------------------------------------

def test_forged_and_tampered_tokens_are_refused(rp, sign):
    """Nobody without the service's private key makes a token it accepts, whatever the header claims."""
    genuine = _token(rp)
    header, payload, signature = genuine.split(".")
    stranger = ECKey.generate_key("P-256", private=True)
    stranger_with_our_kid = ECKey.import_key(stranger.as_dict(private=True) | {"kid": _segments(genuine)[0]["kid"]})
    wider = dict(_segments(genuine)[1], scope="postbox.send postbox.read")
    forgeries = {
        "signature of another key": sign(_claims(rp), key=stranger),
        "another key claiming our kid": sign(_claims(rp), key=stranger_with_our_kid),
        "payload changed, signature kept": ".".join([header, _b64(wider), signature]),
        "signature cut off": f"{header}.{payload}.",
        "signature of another token": ".".join([header, payload, _token(rp).split(".")[2]]),
        "alg none": ".".join([_b64({"alg": "none", "typ": "at+jwt", "kid": _segments(genuine)[0]["kid"]}),
                              payload, ""]),
    }
    # alg confusion: HS256 keyed with what everyone can read of our public key
    public = [k for k in rp.jwks().keys if k.kid == _segments(genuine)[0]["kid"]][0]
    mac_key = OctKey.import_key(json.dumps(public.as_dict()).encode())
    forgeries["HS256 with the public key as secret"] = jwt.encode(
        {"alg": "HS256", "typ": "at+jwt", "kid": public.kid}, _claims(rp), mac_key, algorithms=["HS256"])
    rsa_kid = [k.kid for k in rp.jwks().keys if k.key_type == "RSA"][0]
    forgeries["the kid of our RS256 key"] = sign(_claims(rp), header={"kid": rsa_kid})
    for name, token in forgeries.items():
        assert token != genuine
        _refused(rp, token, name)


@pytest.mark.parametrize("header", [{"typ": "JWT"}, {"typ": None}, {"typ": "logout+jwt"}, {"kid": "unknown-kid"},
                                    {"kid": None}, {"kid": 7}, {"crit": ["exp"], "exp": 1}])
def test_tokens_with_a_wrong_header_are_refused(rp, sign, header):
    _refused(rp, sign(_claims(rp), header=header))


def test_the_service_signature_alone_is_not_enough_claims_must_hold(rp, make_rp, sign):
    other = make_rp(name="Other")
    now = int(time.time())
    bad = {
        "wrong audience": _claims(rp, aud=ISSUER),
        "foreign audience": _claims(rp, aud="https://elsewhere.example"),
        "audience list": _claims(rp, aud=[POSTBOX, ISSUER]),
        "wrong issuer": _claims(rp, iss="https://idp.elsewhere.example"),
        "expired": _claims(rp, iat=now - 400, exp=now - 100),
        "issued in the future": _claims(rp, iat=now + 3600, exp=now + 3900),
        "no exp": _claims(rp, exp=None),
        "exp as text": _claims(rp, exp=str(now + 300)),
        "no jti": _claims(rp, jti=None),
        "no client_id": _claims(rp, client_id=None),
        "sub of another portal": _claims(rp, sub=other.client_id),
        "sub of a citizen": _claims(rp, sub="a-citizens-pairwise-sub"),
        "client_id of a portal that does not exist": _claims(rp, client_id="0" * 32, sub="0" * 32),
        "scope not a string": _claims(rp, scope=["postbox.send"]),
        "postbox scope for the provider": _claims(rp, aud=ISSUER, scope="postbox.send"),
    }
    for name, claims in bad.items():
        _refused(rp, sign(claims), name)
    # The same claims, right, are accepted: the refusals above are the claims' doing.
    assert _send(rp, sign(_claims(rp))).status_code != 401


def test_an_id_token_is_not_an_access_token(rp, citizen):
    tokens = rp.tokens("openid")
    _refused(rp, tokens["id_token"])
    assert rp.userinfo(tokens["id_token"]).status_code == 401


@pytest.mark.parametrize("token", [
    "a.b.c", "..", "x" * 3000 + ".y.z", "ey.ey.ey", "eyJhbGciOiJFUzI1NiJ9.e30.", "bm90IGpzb24.e30.c2ln",
    _b64([1, 2]) + ".e30.c2ln", _b64({"alg": "ES256", "typ": "at+jwt", "kid": "k" * 500}) + ".e30.c2ln",
    _b64(b"[" * 1400 + b"]" * 1400) + ".e30.c2ln", "\u00e4.\u00f6.\u00fc",
    _b64({"alg": "ES256", "typ": ["at+jwt"], "kid": "x"}) + ".e30.c2ln",
])
def test_malformed_tokens_are_refused_never_an_error(rp, token):
    response = _send(rp, token)
    assert response.status_code == 401
    assert rp.userinfo(token).status_code == 401
    assert _introspect(rp, token) == {"active": False}
    revoked = rp.http.post("/oauth/revoke", data={"token": token}, headers=rp.basic_auth())
    assert revoked.status_code == 200


def test_the_token_of_a_deleted_portal_is_refused(rp, citizen, make_rp, runner):
    sub = _sub(rp)
    token = _token(rp)
    assert _send(rp, token, sub).status_code == 201
    assert runner.invoke(args=["clients", "delete", rp.client_id]).exit_code == 0
    response = _send(rp, token, sub)
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert _introspect(rp, token, by=make_rp(name="Other")) == {"active": False}


# --- revocation ------------------------------------------------------------------------------

def test_a_revoked_jwt_access_token_stops_working_at_once(rp, citizen, app):
    from buergerkonto.idp.models import Event
    from buergerkonto.idp.oidc.models import RevokedAccessToken

    sub = _sub(rp)
    token, other_token = _token(rp), _token(rp)
    assert _send(rp, token, sub).status_code == 201
    response = rp.http.post("/oauth/revoke", data={"token": token, "token_type_hint": "access_token"},
                            headers=rp.basic_auth())
    assert response.status_code == 200
    _refused(rp, token)
    assert rp.http.post("/oauth/revoke", data={"token": token}, headers=rp.basic_auth()).status_code == 200
    assert _send(rp, other_token, sub).status_code == 201  # only that token
    with app.app_context():
        row = RevokedAccessToken.query.one()
        claims = _segments(token)[1]
        assert (row.jti, row.client_id, row.expires_at) == (claims["jti"], rp.client_id, claims["exp"])
        events = Event.query.filter_by(tag="oidc:token:revoke").all()
        assert [e.details for e in events] == [{"client_id": rp.client_id, "format": "jwt"}]  # once, not twice


def test_the_revocation_stands_in_every_app_instance(rp, citizen, make_app):
    from support.relying_party import RelyingParty

    sub = _sub(rp)
    token = _token(rp)
    elsewhere = RelyingParty(make_app().test_client(), None, rp.reg)
    assert _send(elsewhere, token, sub).status_code == 201  # the other instance knows the portal now
    assert rp.http.post("/oauth/revoke", data={"token": token}, headers=rp.basic_auth()).status_code == 200
    assert _send(elsewhere, token, sub).status_code == 401


def test_a_revocation_hint_of_refresh_token_still_finds_the_access_token(rp):
    token = _token(rp)
    response = rp.http.post("/oauth/revoke", data={"token": token, "token_type_hint": "refresh_token"},
                            headers=rp.basic_auth())
    assert response.status_code == 200
    _refused(rp, token)


def test_another_portal_can_neither_revoke_nor_introspect_it(rp, make_rp, citizen):
    other = make_rp(name="Other")
    token = _token(rp)
    response = rp.http.post("/oauth/revoke", data={"token": token}, headers=other.basic_auth())
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"  # as for opaque ones
    assert _introspect(rp, token, by=other) == {"active": False}
    assert _send(rp, token, _sub(rp)).status_code == 201


def test_revoking_an_expired_token_is_fine_and_stores_nothing(rp, sign, app):
    from buergerkonto.idp.oidc.models import RevokedAccessToken

    now = int(time.time())
    expired = sign(_claims(rp, iat=now - 400, exp=now - 100))
    assert rp.http.post("/oauth/revoke", data={"token": expired}, headers=rp.basic_auth()).status_code == 200
    with app.app_context():
        assert RevokedAccessToken.query.count() == 0


def test_a_revoked_token_stays_refused_after_purge_until_it_expires(rp, runner, app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import RevokedAccessToken

    token = _token(rp)
    rp.http.post("/oauth/revoke", data={"token": token}, headers=rp.basic_auth())
    result = runner.invoke(args=["purge", "--json"])
    assert json.loads(result.output)["revoked_access_tokens"] == 0
    _refused(rp, token)
    with app.app_context():
        for row in RevokedAccessToken.query:
            row.expires_at = int(time.time()) - 1
        db.session.commit()
    assert json.loads(runner.invoke(args=["purge", "--json"]).output)["revoked_access_tokens"] == 1


# --- introspection ---------------------------------------------------------------------------

def test_introspection_describes_the_portals_own_jwt(rp):
    token = _token(rp)
    claims = _segments(token)[1]
    info = _introspect(rp, token)
    assert info == {"active": True, "token_type": "Bearer", "client_id": rp.client_id, "scope": "postbox.send",
                    "iss": ISSUER, "aud": POSTBOX, "sub": rp.client_id, "jti": claims["jti"],
                    "iat": claims["iat"], "exp": claims["exp"]}


def test_introspection_of_an_expired_jwt_is_inactive(rp, sign):
    now = int(time.time())
    assert _introspect(rp, sign(_claims(rp, iat=now - 400, exp=now - 1))) == {"active": False}
    assert _introspect(rp, sign(_claims(rp)))["active"] is True


# --- keys and registrations ------------------------------------------------------------------

def test_tokens_signed_before_a_key_rotation_keep_working(rp, citizen, runner):
    sub = _sub(rp)
    old = _token(rp)
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    new = _token(rp)
    assert _segments(old)[0]["kid"] != _segments(new)[0]["kid"]
    assert _send(rp, old, sub).status_code == 201
    assert _send(rp, new, sub).status_code == 201


def test_a_key_made_by_another_instance_verifies_before_this_ones_cache_renews(rp, citizen, make_app):
    """Another instance rotates and signs with its new key while this one still has the old key set cached."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import keys
    from support.relying_party import RelyingParty

    sub = _sub(rp)
    this = make_app(CACHE_SECONDS=3600)
    here = RelyingParty(this.test_client(), None, rp.reg)
    assert _send(here, _token(rp), sub).status_code == 201  # this instance's key set is cached now
    other = make_app()
    with other.app_context():
        keys.rotate()
        db.session.commit()
    token = _token(RelyingParty(other.test_client(), None, rp.reg))
    with this.app_context():
        assert _segments(token)[0]["kid"] not in [key.kid for key in keys.public_key_set().keys]
    assert _send(here, token, sub).status_code == 201
    with this.app_context():
        assert _segments(token)[0]["kid"] in [key.kid for key in keys.public_key_set().keys]


def test_a_retired_key_past_its_publish_window_no_longer_verifies(rp, sign, app, runner):
    from datetime import timedelta

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import SigningKey

    token = sign(_claims(rp))
    runner.invoke(args=["keys", "rotate"])
    with app.app_context():
        for key in SigningKey.query.filter_by(active=False):
            key.retired_at -= timedelta(days=1)
        db.session.commit()
    _refused(rp, token)


def test_switching_a_portal_to_opaque_keeps_its_issued_jwts_valid(rp, citizen, runner):
    sub = _sub(rp)
    issued = _token(rp)
    result = runner.invoke(args=["clients", "update", rp.client_id, "--access-token-format", "opaque"])
    assert result.exit_code == 0, result.output
    assert "." not in _token(rp)
    assert _send(rp, issued, sub).status_code == 201
    runner.invoke(args=["clients", "update", rp.client_id, "--access-token-format", "jwt"])
    assert _token(rp).count(".") == 2


def test_the_cli_registers_and_lists_the_format(runner, app):
    from buergerkonto.idp.oidc.models import Client

    base = ["clients", "create", "--name", "Portal", "--redirect-uri", "https://portal.example/cb", "--json"]
    default = json.loads(runner.invoke(args=base).output)
    opaque = json.loads(runner.invoke(args=base + ["--access-token-format", "opaque"]).output)
    assert (default["access_token_format"], opaque["access_token_format"]) == ("jwt", "opaque")
    listed = {c["client_id"]: c["access_token_format"]
              for c in json.loads(runner.invoke(args=["clients", "list", "--json"]).output)}
    assert listed == {default["client_id"]: "jwt", opaque["client_id"]: "opaque"}
    with app.app_context():
        assert Client.query.filter_by(client_id=opaque["client_id"]).one().access_token_format == "opaque"
    for args in (base + ["--access-token-format", "signed"],
                 ["clients", "update", default["client_id"], "--access-token-format", "none"],
                 ["clients", "update", "no-such-client", "--access-token-format", "opaque"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "Traceback" not in result.output, args


def test_a_private_key_jwt_portal_gets_a_jwt_too(make_rp):
    """Client authentication and token format are independent: the assertion's jti is stored, the token not."""
    key = ECKey.generate_key("P-256", private=True)
    rp = make_rp(token_endpoint_auth_method="private_key_jwt",
                 jwks={"keys": [dict(key.as_dict(private=False), kid="k1", alg="ES256", use="sig")]})
    now = int(time.time())
    assertion = jwt.encode({"alg": "ES256", "kid": "k1"}, {
        "iss": rp.client_id, "sub": rp.client_id, "aud": ISSUER, "iat": now, "exp": now + 60,
        "jti": "assertion-1"}, key)
    response = rp.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "scope": "postbox.send",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})
    assert response.status_code == 200, response.get_json()
    assert _segments(response.get_json()["access_token"])[1]["client_id"] == rp.client_id
