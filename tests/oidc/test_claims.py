"""The claims parameter (OIDC Core §5.5), verified_claims from the hook, bad claims requests."""

import json


def test_claim_requested_for_id_token_is_included_within_granted_scope(rp, citizen):
    request = json.dumps({"id_token": {"email": {"essential": True}}})
    claims = rp.id_token(rp.tokens("openid email", claims=request)["id_token"])
    assert claims["email"] == citizen["email"]


def test_claim_outside_granted_scope_is_not_released(rp, citizen):
    request = json.dumps({"id_token": {"email": None}, "userinfo": {"phone_number": None}})
    tokens = rp.tokens("openid", claims=request)
    assert "email" not in rp.id_token(tokens["id_token"])
    assert "phone_number" not in rp.userinfo(tokens["access_token"]).get_json()


def test_verified_claims_come_from_the_hook_when_requested(rp, citizen, app):
    seen = []

    def provider(account, record, requested):
        seen.append(requested)
        return [{"verification": {"trust_framework": "de_aml"}, "claims": {"given_name": "Erika"}}]

    app.extensions["buergerkonto.hooks"].verified_claims.append(provider)
    request = {"verification": {"trust_framework": None}, "claims": {"given_name": None}}
    tokens = rp.tokens("openid profile", claims=json.dumps({"id_token": {"verified_claims": request},
                                                               "userinfo": {"verified_claims": request}}))
    assert rp.id_token(tokens["id_token"])["verified_claims"]["claims"]["given_name"] == "Erika"
    assert rp.userinfo(tokens["access_token"]).get_json()["verified_claims"]["verification"]
    assert seen[0] == request


def test_no_verified_claims_without_request(rp, citizen, app):
    app.extensions["buergerkonto.hooks"].verified_claims.append(lambda *a: [{"claims": {}}])
    assert "verified_claims" not in rp.id_token(rp.tokens("openid profile")["id_token"])


def test_malformed_claims_parameter_is_invalid_request(rp, citizen):
    for bad in ("{", "[]", '"x"', json.dumps({"id_token": []}), json.dumps({"id_token": {"email": 5}}),
                json.dumps({"id_token": {"acr": {"essential": "yes"}}}), "{" + " " * 5000 + "}"):
        result = rp.callback(rp.authorize(claims=bad))
        assert result["error"] == "invalid_request", bad
        assert "code" not in result


def test_requested_sub_of_another_citizen_with_prompt_none_is_login_required(rp, citizen):
    request = json.dumps({"id_token": {"sub": {"value": "someone-else"}}})
    assert rp.callback(rp.authorize(claims=request, prompt="none"))["error"] == "login_required"
