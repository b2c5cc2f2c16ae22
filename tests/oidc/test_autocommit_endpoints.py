"""Which endpoints run without a transaction (``idp.autocommit``), and that they still answer right.

Userinfo, introspection and the client-credentials grant save the BEGIN and COMMIT round trips;
the code and refresh grants write several rows that belong together and keep their transaction.
Userinfo reads its token on the driver (``idp.direct_sql``), also without a transaction, and
needs its session only to record which claims a portal received (at most once a minute); the
client-credentials grant writes its token (and a private_key_jwt's jti) on the driver too.
"""

import pytest

from support.statements import recorded_statements


@pytest.fixture
def statements(app):
    """Each SQL statement sent (``support.statements.Statement``: its SQL, whether in autocommit)."""
    with recorded_statements(app) as seen:
        yield seen


def _modes(statements, call):
    statements.clear()
    response = call()
    assert statements, "the request ran no statement"
    return response, {statement.autocommit for statement in statements}


def _read_directly_then_one_transaction(statements) -> bool:
    """A grant for a citizen: its code or refresh token read on the driver, then what it writes (the
    code's use or the rotation, the new tokens) together in one transaction."""
    return ([s.verb for s in statements if s.autocommit] == ["SELECT"]
            and {s.verb for s in statements if not s.autocommit} >= {"UPDATE", "INSERT"})


@pytest.fixture
def rp(make_rp):
    return make_rp(access_token_format="opaque")  # its client-credentials tokens are stored


def test_token_reads_and_portal_tokens_run_without_a_transaction_grants_for_citizens_with_one(
        rp, citizen, statements):
    code = rp.code("openid profile offline_access")
    response, modes = _modes(statements, lambda: rp.redeem(code))
    assert response.status_code == 200 and _read_directly_then_one_transaction(statements)
    tokens = response.get_json()

    response, modes = _modes(statements, lambda: rp.userinfo(tokens["access_token"]))
    assert response.status_code == 200 and response.get_json()["sub"]
    token_reads = [statement for statement in statements if "FROM oauth_token" in statement.sql]
    assert len(token_reads) == 1 and token_reads[0].autocommit  # the first use also notes the claims released
    response, modes = _modes(statements, lambda: rp.userinfo(tokens["access_token"]))
    assert response.status_code == 200 and modes == {True}  # then the token's read is all there is
    assert [statement.verb for statement in statements] == ["SELECT"]

    response, modes = _modes(statements, lambda: rp.http.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, headers=rp.basic_auth()))
    assert response.status_code == 200 and response.get_json()["active"] is True and modes == {True}

    response, modes = _modes(statements, lambda: rp.token({"grant_type": "client_credentials"}))
    assert response.status_code == 200, response.get_json()
    assert [(s.verb, s.autocommit) for s in statements] == [("INSERT", True)]  # the opaque token, by itself

    response, modes = _modes(statements, lambda: rp.refresh(tokens["refresh_token"]))
    assert response.status_code == 200 and _read_directly_then_one_transaction(statements)


def test_a_token_issued_without_a_transaction_is_stored_and_usable(rp, statements):
    response = rp.token({"grant_type": "client_credentials"})
    assert response.status_code == 200
    token = response.get_json()["access_token"]
    introspected = rp.http.post("/oauth/introspect", data={"token": token}, headers=rp.basic_auth())
    assert introspected.get_json()["active"] is True


def test_a_failed_request_without_a_transaction_leaves_the_next_one_a_normal_transaction(
        rp, citizen, statements):
    assert rp.userinfo("not-a-token").status_code == 401
    code = rp.code("openid")
    response, modes = _modes(statements, lambda: rp.redeem(code))
    assert response.status_code == 200 and _read_directly_then_one_transaction(statements)


def test_a_client_assertion_is_accepted_once_without_a_transaction_too(make_rp, statements):
    from joserfc.jwk import ECKey

    from .test_client_auth import ASSERTION, assertion

    key = ECKey.generate_key("P-256", private=True)
    public = dict(key.as_dict(private=False), kid="k1", alg="ES256", use="sig")
    rp = make_rp(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [public]}, access_token_format="opaque")
    rp.key = key
    signed = assertion(rp)
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION, "client_assertion": signed}
    response, modes = _modes(statements, lambda: rp.http.post("/oauth/token", data=data))
    assert response.status_code == 200, response.get_json()
    writes = [s for s in statements if s.verb == "INSERT"]
    assert len(writes) == 2 and all(s.autocommit for s in writes), statements  # the jti, the token
    assert [s.verb for s in statements if not s.autocommit] in ([], ["SELECT"]), statements  # (the keys, once)
    replayed = rp.http.post("/oauth/token", data=data)
    assert replayed.status_code in (400, 401) and replayed.get_json()["error"] == "invalid_client"
