"""Discovery metadata is complete and true; the JWKS holds public keys only."""


def test_metadata_lists_what_the_provider_does(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["issuer"] == "http://localhost"
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint",
                 "introspection_endpoint", "end_session_endpoint"):
        assert meta[name].startswith("http://localhost/"), name
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["backchannel_logout_supported"] is True and meta["backchannel_logout_session_supported"] is True
    assert meta["claims_parameter_supported"] is True
    assert set(meta["subject_types_supported"]) == {"pairwise", "public"}
    assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert "http://eidas.europa.eu/LoA/substantial" in meta["acr_values_supported"]
    assert "STORK-QAA-Level-3" in meta["acr_values_supported"]
    assert meta["response_types_supported"] == ["code"]
    assert "implicit" not in meta["grant_types_supported"] and "password" not in meta["grant_types_supported"]
    for scope in ("openid", "profile", "email", "address", "phone", "offline_access"):
        assert scope in meta["scopes_supported"]


def test_metadata_endpoints_exist(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert client.get(meta["jwks_uri"].replace("http://localhost", "")).status_code == 200
    assert client.get(meta["userinfo_endpoint"].replace("http://localhost", "")).status_code == 401
    assert client.post(meta["token_endpoint"].replace("http://localhost", "")).status_code == 400


def test_jwks_has_no_private_parts(client):
    keys = client.get("/oauth/jwks").get_json()["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "RS256"}
    for key in keys:
        assert key["kid"] and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
