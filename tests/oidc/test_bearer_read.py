"""Bearer tokens read as plain values (``oidc.bearer``): the same facts as the ORM rows, no secrets."""

import dataclasses

import pytest


@pytest.fixture
def opaque_rp(make_rp):
    return make_rp(access_token_format="opaque")


def test_a_citizen_token_reads_as_its_row_with_the_account_claims(app, rp, browser, make_account):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account
    from buergerkonto.idp.oidc import bearer
    from buergerkonto.idp.oidc.models import Token, hash_token
    from support.plugin import sign_in

    account = make_account(name="Erika Mustermann", given_name="Erika", family_name="Mustermann",
                           phone_number="+49 491 123", address={"locality": "Leer", "postal_code": "26789"})
    sign_in(browser, account["email"], account["password"])
    tokens = rp.tokens("openid profile email phone address")
    with app.test_request_context():
        read = bearer.read(hash_token(tokens["access_token"]))
        row = Token.query.filter_by(access_token=hash_token(tokens["access_token"])).one()
        _assert_same_columns(read, row)
        stored = db.session.get(Account, account["id"])
        for field in dataclasses.fields(read.account):
            assert getattr(read.account, field.name) == getattr(stored, field.name), field.name
        assert read.account.email_verified is True and read.account.address["locality"] == "Leer"
        assert not read.is_expired() and not read.is_revoked() and read.get_scope() == row.scope
        assert bearer.read(hash_token("not-a-token")) is None
        db.session.remove()


def test_the_reads_select_no_password_hash_no_totp_secret_and_no_token_hash():
    from buergerkonto.idp.oidc import bearer

    for read in (bearer._read_access, bearer._read_refresh, bearer._read_code):
        selected = {column.name for column in read.statement.selected_columns}
        assert not selected & {"password_hash", "totp_secret", "totp_last_step", "access_token", "refresh_token",
                               "code"}, read


def test_a_portal_token_has_no_account(app, opaque_rp):
    from buergerkonto.idp.oidc import bearer
    from buergerkonto.idp.oidc.models import hash_token

    response = opaque_rp.token({"grant_type": "client_credentials"})
    assert response.status_code == 200
    with app.test_request_context():
        read = bearer.read(hash_token(response.get_json()["access_token"]))
        assert read.account_id is None and read.account is None and read.client_id == opaque_rp.client_id


def test_userinfo_shows_a_changed_name_and_refuses_a_revoked_token_at_once(app, rp, browser, make_account):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account
    from support.plugin import sign_in

    account = make_account(name="Erika Mustermann")
    sign_in(browser, account["email"], account["password"])
    tokens = rp.tokens("openid profile")
    assert rp.userinfo(tokens["access_token"]).get_json()["name"] == "Erika Mustermann"
    with app.app_context():
        db.session.get(Account, account["id"]).name = "Erika Musterfrau"
        db.session.commit()
    assert rp.userinfo(tokens["access_token"]).get_json()["name"] == "Erika Musterfrau"
    revoked = rp.http.post("/oauth/revoke", data={"token": tokens["access_token"]}, headers=rp.basic_auth())
    assert revoked.status_code == 200
    response = rp.userinfo(tokens["access_token"])
    assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]


def test_a_refresh_token_reads_as_its_row_with_the_account_claims(app, rp, citizen):
    from buergerkonto.idp.oidc import bearer
    from buergerkonto.idp.oidc.models import Token, hash_token

    tokens = rp.tokens("openid email offline_access")
    with app.test_request_context():
        read = bearer.read_refresh(hash_token(tokens["refresh_token"]))
        row = Token.query.filter_by(refresh_token=hash_token(tokens["refresh_token"])).one()
        _assert_same_columns(read, row)
        assert read.account.id == row.account_id and read.refresh_usable() == row.refresh_usable()
        assert bearer.read_refresh(hash_token(tokens["access_token"])) is None  # not a refresh token
        from buergerkonto.idp.extensions import db

        db.session.remove()


def _assert_same_columns(read, row):
    """Each value ``read`` took from the row (all but the portal and the account set after it) equals
    the ORM row's."""
    for field in dataclasses.fields(read):
        if field.name not in ("client", "account"):
            assert getattr(read, field.name) == getattr(row, field.name), field.name


def test_an_authorization_code_reads_as_its_row_with_the_account_claims(app, rp, citizen):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import bearer
    from buergerkonto.idp.oidc.models import AuthorizationCode, hash_token

    code = rp.code("openid email")
    with app.test_request_context():
        read = bearer.read_code(hash_token(code), rp.client_id)
        row = AuthorizationCode.query.filter_by(code=hash_token(code)).one()
        _assert_same_columns(read, row)
        for method in ("is_expired", "get_redirect_uri", "get_scope", "get_auth_time", "get_acr", "get_amr",
                       "get_nonce"):
            assert getattr(read, method)() == getattr(row, method)(), method
        assert read.account.id == row.account_id
        assert bearer.read_code(hash_token(code), "another-portal") is None
        db.session.remove()
