"""Who may use the postbox API: audience, scope, holder and citizen of the token."""

import base64

import pytest


def test_missing_and_unknown_tokens_are_401_problems(client, kit):
    response = client.get(f"{kit.API}/messages")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = client.get(f"{kit.API}/messages", headers=kit.bearer("not-a-token"))
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    basic = {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}
    assert client.get(f"{kit.API}/messages", headers=basic).status_code == 401


def test_ordinary_token_is_refused_as_wrong_audience(leer, citizen, client, kit):
    tokens = leer.citizen_tokens("openid profile email")
    response = client.get(f"{kit.API}/messages", headers=kit.bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert "wrong audience" in response.headers["WWW-Authenticate"]
    # The same token is good at userinfo, the provider's own resource.
    assert client.get("/oauth/userinfo", headers=kit.bearer(tokens["access_token"])).status_code == 200


def test_postbox_token_is_refused_at_userinfo(leer, citizen, client, kit):
    token = leer.citizen_token("openid profile postbox.read")
    assert client.get(f"{kit.API}/messages", headers=kit.bearer(token)).status_code == 200
    response = client.get("/oauth/userinfo", headers=kit.bearer(token))
    assert response.status_code == 401


def test_citizen_token_cannot_send_and_portal_token_cannot_read(leer, citizen, client, kit):
    citizen_token = leer.citizen_token()
    response = leer.send(citizen_token, leer.sub())
    assert response.status_code == 403 and 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    portal_token = leer.portal_token()
    for path in ("/messages", "/messages/00000000-0000-0000-0000-000000000000"):
        response = client.get(kit.API + path, headers=kit.bearer(portal_token))
        assert response.status_code == 403, path


def test_grants_never_carry_the_other_holders_postbox_scopes(leer, citizen, kit):
    tokens = leer.citizen_tokens("openid postbox.read postbox.send")
    assert set(tokens["scope"].split()) == {"openid", "postbox.read"}
    response = leer.token_request({"grant_type": "client_credentials", "scope": "postbox.send postbox.read"})
    assert response.get_json()["scope"] == "postbox.send"


def test_a_portal_without_postbox_scopes_gets_none(make_portal, citizen, client, kit):
    portal = make_portal("Nur Anmeldung", "login-only.example", scope="openid email")
    tokens = portal.citizen_tokens("openid postbox.read")
    assert "postbox.read" not in tokens["scope"].split()
    assert client.get(f"{kit.API}/messages", headers=kit.bearer(tokens["access_token"])).status_code == 401


def test_delete_needs_manage_scope(leer, citizen, client, kit):
    message_id = leer.send(leer.portal_token(), leer.sub()).get_json()["id"]
    token = leer.citizen_token("openid postbox.read")
    response = client.delete(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token))
    assert response.status_code == 403 and "postbox.manage" in response.get_json()["detail"]


def test_another_citizens_token_finds_nothing(leer, landkreis, citizen, browser, make_account, client, kit):
    from support.plugin import sign_in

    message_id = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": "a.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())}]).get_json()["id"]
    other = make_account()
    browser.get("/sign-out")
    browser.submit("/sign-out", {})
    sign_in(browser, other["email"], other["password"])
    token = landkreis.citizen_token()
    assert client.get(f"{kit.API}/messages", headers=kit.bearer(token)).get_json()["items"] == []
    for call, path in ((client.get, ""), (client.get, "/attachments/0"), (client.delete, "")):
        response = call(f"{kit.API}/messages/{message_id}{path}", headers=kit.bearer(token))
        assert response.status_code == 404 and response.mimetype == "application/problem+json", path


def test_revoked_token_is_refused(leer, citizen, client, kit):
    token = leer.citizen_token()
    assert client.get(f"{kit.API}/messages", headers=kit.bearer(token)).status_code == 200
    response = leer.http.post("/oauth/revoke", data={"token": token}, headers=leer._basic())
    assert response.status_code == 200
    assert client.get(f"{kit.API}/messages", headers=kit.bearer(token)).status_code == 401


@pytest.mark.parametrize("resource,ok", [("{issuer}/api/postbox/v1", True), ("https://elsewhere.example", False),
                                         ("{issuer}", False)])
def test_resource_parameter_must_name_the_postbox(leer, citizen, app, resource, ok):
    resource = resource.format(issuer=app.config["ISSUER"])
    response = leer.token_request({"grant_type": "client_credentials", "scope": "postbox.send",
                                   "resource": resource})
    if ok:
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_target"


def test_external_portal_consent_names_the_postbox(make_portal, citizen, browser, kit):
    portal = make_portal("Externes Portal", "extern.example", external=True)
    from urllib.parse import urlencode

    query = {"response_type": "code", "client_id": portal.client_id, "redirect_uri": portal.redirect_uri,
             "scope": "openid postbox.read", "state": "s", "code_challenge": "x" * 43,
             "code_challenge_method": "S256"}
    page = browser.follow(browser.get("/authorize?" + urlencode(query)))
    assert page.status_code == 200
    assert "Lesen der Nachrichten in Ihrem Postfach" in page.get_data(as_text=True)


def test_public_subject_portal_addresses_by_account_id(make_portal, citizen, client, kit):
    portal = make_portal("Landesportal", "land.example", subject_type="public")
    assert portal.sub() == citizen["uuid"]
    response = portal.send(portal.portal_token(), citizen["uuid"])
    assert response.status_code == 201
