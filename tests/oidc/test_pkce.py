"""PKCE with S256 is required from every client, confidential ones included (RFC 9700 §2.1.1)."""

import base64
import hashlib


def _error(rp, response):
    return rp.callback(response)["error"]


def test_missing_code_challenge_is_refused_with_iss(rp, citizen):
    result = rp.callback(rp.authorize(code_challenge=None, code_challenge_method=None))
    assert result["error"] == "invalid_request"
    assert result["iss"] == "http://localhost" and result["state"] == rp.state
    assert "code" not in result


def test_plain_method_is_refused(rp, citizen):
    result = rp.callback(rp.authorize(code_challenge="a" * 43, code_challenge_method="plain"))
    assert result["error"] == "invalid_request" and "code" not in result


def test_challenge_without_method_is_refused(rp, citizen):
    result = rp.callback(rp.authorize(code_challenge_method=None))
    assert result["error"] == "invalid_request"


def test_malformed_challenge_is_refused(rp, citizen):
    result = rp.callback(rp.authorize(code_challenge="short", code_challenge_method="S256"))
    assert result["error"] == "invalid_request"


def test_wrong_verifier_is_refused_and_right_one_then_works(rp, citizen):
    code = rp.code()
    right = rp.verifier
    response = rp.redeem(code, code_verifier="x" * 50)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    response = rp.redeem(code, code_verifier=right)
    assert response.status_code == 200


def test_missing_verifier_is_refused(rp, citizen):
    code = rp.code()
    response = rp.redeem(code, code_verifier=None)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert "access_token" not in response.get_json()


def test_public_client_must_use_pkce_too(make_rp, citizen):
    rp = make_rp(public=True)
    code = rp.code()
    response = rp.redeem(code, code_verifier=None)
    assert response.get_json()["error"] == "invalid_request"
    verifier = "v" * 60
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())  # sanity of the helper
    rp2 = make_rp(public=True)
    tokens = rp2.tokens()
    assert "access_token" in tokens
