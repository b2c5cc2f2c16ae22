"""Introspection (RFC 7662) for a portal's own tokens; revocation (RFC 7009)."""


def test_introspection_describes_an_active_token(rp, citizen):
    tokens = rp.tokens("openid email")
    info = rp.http.post("/oauth/introspect", data={"token": tokens["access_token"]}, headers=rp.basic_auth()).get_json()
    assert info["active"] is True and info["client_id"] == rp.client_id
    assert info["sub"] == rp.id_token(tokens["id_token"])["sub"]
    assert set(info["scope"].split()) == {"openid", "email"} and info["exp"] > info["iat"]
    assert info["acr"] == "http://eidas.europa.eu/LoA/low"


def test_introspection_of_unknown_or_foreign_token_is_inactive(rp, make_rp, citizen):
    assert rp.http.post("/oauth/introspect", data={"token": "nope"}, headers=rp.basic_auth()).get_json() == {"active": False}
    other = make_rp(name="Other")
    tokens = other.tokens()
    info = rp.http.post("/oauth/introspect", data={"token": tokens["access_token"]}, headers=rp.basic_auth()).get_json()
    assert info == {"active": False}


def test_introspection_needs_client_authentication(rp, citizen):
    tokens = rp.tokens()
    response = rp.http.post("/oauth/introspect", data={"token": tokens["access_token"]})
    assert response.status_code in (400, 401) and response.get_json()["error"] == "invalid_client"


def test_public_clients_cannot_introspect(make_rp, citizen):
    rp = make_rp(public=True)
    tokens = rp.tokens()
    response = rp.http.post("/oauth/introspect", data={"token": tokens["access_token"], "client_id": rp.client_id})
    assert response.get_json()["error"] == "invalid_client"


def test_revoking_access_token_ends_it(rp, citizen):
    tokens = rp.tokens()
    response = rp.http.post("/oauth/revoke", data={"token": tokens["access_token"]}, headers=rp.basic_auth())
    assert response.status_code == 200
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    info = rp.http.post("/oauth/introspect", data={"token": tokens["access_token"]}, headers=rp.basic_auth()).get_json()
    assert info == {"active": False}


def test_revoking_refresh_token_ends_the_grant(rp, citizen):
    tokens = rp.tokens("openid offline_access")
    response = rp.http.post("/oauth/revoke", data={"token": tokens["refresh_token"],
                                                   "token_type_hint": "refresh_token"}, headers=rp.basic_auth())
    assert response.status_code == 200
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_revoking_unknown_token_is_fine(rp):
    response = rp.http.post("/oauth/revoke", data={"token": "unknown"}, headers=rp.basic_auth())
    assert response.status_code == 200


def test_revocation_by_another_client_is_refused(rp, make_rp, citizen):
    tokens = rp.tokens()
    other = make_rp(name="Other")
    response = rp.http.post("/oauth/revoke", data={"token": tokens["access_token"]}, headers=other.basic_auth())
    assert response.status_code == 400
    assert rp.userinfo(tokens["access_token"]).status_code == 200
