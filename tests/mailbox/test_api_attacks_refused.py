"""Attacks on the postbox API that are refused (kept as regression checks)."""


def test_portal_cannot_address_by_another_sectors_sub_or_the_account_uuid(leer, landkreis, citizen, kit):
    leer_sub = leer.sub()
    landkreis.sub()
    token = landkreis.portal_token()
    for recipient in (leer_sub, citizen["uuid"]):
        response = landkreis.send(token, recipient)
        assert response.status_code == 400 and response.get_json()["errors"][0]["pointer"] == "/recipient"


def test_portal_never_signed_in_cannot_send(make_portal, citizen, leer, kit):
    sub = leer.sub()
    same_name = make_portal("Stadt Leer", "other-host.example")
    assert same_name.send(same_name.portal_token(), sub).status_code == 400


def test_low_token_can_neither_delete_nor_filter_out_a_high_message(leer, citizen, client, kit):
    message_id = leer.send(leer.portal_token(), leer.sub(), min_level="high", reference="AZ-H",
                           kind="status", status="RECEIVED").get_json()["id"]
    token = leer.citizen_token()
    assert client.delete(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token)).status_code == 401
    for query in ("reference=AZ-H", "kind=status", "reference=AZ-H&unread=true"):
        assert client.get(f"{kit.API}/messages?{query}", headers=kit.bearer(token)).get_json()["items"] == [], query
    status = client.get(f"{kit.API}/messages/{message_id}/status", headers=kit.bearer(leer.portal_token()))
    assert status.get_json()["state"] == "delivered"


def test_portal_token_of_another_portal_cannot_see_status_and_citizen_token_cannot_send(leer, landkreis, citizen,
                                                                                       client, kit):
    message_id = leer.send(leer.portal_token(), leer.sub()).get_json()["id"]
    assert client.get(f"{kit.API}/messages/{message_id}/status",
                      headers=kit.bearer(landkreis.portal_token())).status_code == 404
    assert client.get(f"{kit.API}/messages/{message_id}/status",
                      headers=kit.bearer(leer.citizen_token("openid postbox.read"))).status_code == 403
    assert client.get(f"{kit.API}/messages/{message_id}", headers=kit.bearer(leer.portal_token())).status_code == 403
