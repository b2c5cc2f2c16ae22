"""The account page lists the portals used, what they received, and consents that can be revoked."""


def test_portals_used_and_claims_received_are_listed(make_rp, citizen, browser):
    rp = make_rp(name="Hundesteuer Moormerland")
    tokens = rp.tokens("openid email")
    rp.userinfo(tokens["access_token"])
    section = browser.soup(browser.get("/account")).select_one("section[aria-labelledby=portals-h]")
    row = next(tr for tr in section.select("tbody tr") if "Hundesteuer Moormerland" in tr.get_text())
    received = row.select("td")[2].get_text()
    # In the citizen's words (German by default), not the protocol's claim names.
    assert "Ihre E-Mail-Adresse" in received and "Wie und wann Sie sich angemeldet haben" in received
    assert "email" not in received and "auth_time" not in received


def test_consents_name_the_data_not_the_scopes(make_rp, citizen, browser):
    rp = make_rp(name="Externes Portal", external=True)
    rp.tokens("openid email offline_access")
    section = browser.soup(browser.get("/account?lang=en")).select_one("section[aria-labelledby=portals-h]")
    consent = next(li for li in section.select("li") if "Externes Portal" in li.get_text())
    text = consent.get_text()
    assert "Your e-mail address" in text and "while you are not signed in" in text
    assert "offline_access" not in text and "email " not in text


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
