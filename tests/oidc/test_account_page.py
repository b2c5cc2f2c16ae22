"""The account page lists the portals used, what they received, and consents that can be revoked."""


def test_portals_used_and_claims_received_are_listed(make_rp, citizen, browser):
    rp = make_rp(name="Hundesteuer Moormerland")
    tokens = rp.tokens("openid email")
    rp.userinfo(tokens["access_token"])
    page = browser.get("/account").get_data(as_text=True)
    assert "Hundesteuer Moormerland" in page
    assert "email" in page


def test_revoking_consent_ends_offline_access_and_asks_again(make_rp, citizen, browser):
    rp = make_rp(name="Externes Portal", external=True)
    tokens = rp.tokens("openid email offline_access")
    page = browser.get("/account")
    response = browser.submit_page(page, {}, selector="form[action*='/account/consents/']")
    assert response.status_code == 302
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.is_consent_page(rp.authorize("openid email", consent=None))


def test_consent_of_another_account_cannot_be_revoked(make_rp, citizen, browser, make_account, app):
    from support.browser import Browser
    from support.plugin import sign_in

    from buergerkonto.idp.oidc.models import Consent

    rp = make_rp(external=True)
    rp.tokens("openid email")
    with app.app_context():
        consent_id = Consent.query.one().id
    other = Browser(app.test_client())
    account = make_account()
    sign_in(other, account["email"], account["password"])
    token = other.csrf_token("/account")
    other.post(f"/account/consents/{consent_id}/revoke", data={"csrf_token": token})
    with app.app_context():
        assert Consent.query.one().revoked_at is None


def test_export_includes_portals_and_consents(make_rp, citizen, browser):
    rp = make_rp(external=True)
    rp.tokens("openid email")
    data = browser.get("/account/export").get_json()
    assert data["portals"]["consents"][0]["client_id"] == rp.client_id
    assert data["portals"]["portals"][0]["client_id"] == rp.client_id
