"""One portal sends, another portal reads on the citizen's behalf; the sender sees the state."""

import json



def test_portal_sends_and_another_portal_reads_the_same_postbox(leer, landkreis, citizen, client, smtp, kit):
    recipient = leer.sub()
    pdf = kit.pdf()
    sent = leer.send(leer.portal_token(), recipient, key="send-1", reference="AZ-2026-17", min_level="low",
                     reply_to="buergerbuero@leer.example",
                     attachments=[{"filename": "bescheid.pdf", "content_type": "application/pdf",
                                   "content": kit.b64(pdf)}])
    assert sent.status_code == 201, sent.get_json()
    message_id = sent.get_json()["id"]
    assert sent.headers["Location"] == f"{kit.API}/messages/{message_id}"

    token = landkreis.citizen_token()
    listing = client.get(f"{kit.API}/messages", headers=kit.bearer(token))
    assert listing.status_code == 200
    [item] = listing.get_json()["items"]
    assert item["id"] == message_id and item["read"] is False and item["locked"] is False
    assert item["subject"] == "Ihr Bescheid" and item["sender"]["name"] == "Stadt Leer"
    assert item["attachment_count"] == 1 and item["reference"] == "AZ-2026-17"

    read = client.get(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token))
    assert read.status_code == 200
    message = read.get_json()
    assert message["body"] == "Sehr geehrte Bürgerin, ..." and message["read"] is True
    assert message["reply_to"] == "buergerbuero@leer.example"
    assert message["attachments"] == [{"number": 0, "filename": "bescheid.pdf", "content_type": "application/pdf",
                                       "size": len(pdf)}]
    download = client.get(f"{kit.API}/messages/{message_id}/attachments/0", headers=kit.bearer(token))
    assert download.status_code == 200 and download.data == pdf
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    assert client.get(f"{kit.API}/messages/{message_id}/attachments/1", headers=kit.bearer(token)).status_code == 404

    status = client.get(f"{kit.API}/messages/{message_id}/status", headers=kit.bearer(leer.portal_token()))
    assert status.status_code == 200 and status.get_json()["state"] == "read"
    # Another portal cannot see the state of a message it did not send.
    other = client.get(f"{kit.API}/messages/{message_id}/status", headers=kit.bearer(landkreis.portal_token()))
    assert other.status_code == 404


def test_new_message_mail_says_so_without_content(leer, citizen, smtp, app, kit):
    response = leer.send(leer.portal_token(), leer.sub(), subject="Geheimer Betreff", body="Geheimer Inhalt")
    assert response.status_code == 201
    mail = smtp.wait_for(citizen["email"])
    smtp.settle()
    assert len(smtp.to(citizen["email"])) == 1
    assert mail["Subject"] == "Neue Nachricht in Ihrem Postfach"
    text = mail.get_content()
    assert "Geheim" not in text and "/postbox" in text


def test_delete_hides_message_and_sender_sees_deleted(leer, landkreis, citizen, client, kit):
    message_id = leer.send(leer.portal_token(), leer.sub()).get_json()["id"]
    reader = landkreis.citizen_token("openid postbox.read")
    # Deleting needs postbox.manage.
    refused = client.delete(f"{kit.API}/messages/{message_id}", headers=kit.bearer(reader))
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    manager = landkreis.citizen_token()
    assert client.delete(f"{kit.API}/messages/{message_id}", headers=kit.bearer(manager)).status_code == 204
    assert client.get(f"{kit.API}/messages/{message_id}", headers=kit.bearer(manager)).status_code == 404
    assert client.get(f"{kit.API}/messages", headers=kit.bearer(manager)).get_json()["items"] == []
    status = client.get(f"{kit.API}/messages/{message_id}/status", headers=kit.bearer(leer.portal_token()))
    assert status.get_json()["state"] == "deleted" and status.get_json()["deleted_at"]


def test_status_updates_group_into_a_timeline(leer, citizen, client, kit):
    token, sub = leer.portal_token(), leer.sub()
    for state in ("SUBMITTED", "RECEIVED", "PROCESSING"):
        assert leer.send(token, sub, kind="status", status=state, reference="HUND-7",
                         subject=f"Antrag Hundesteuer: {state}").status_code == 201
    leer.send(token, sub, kind="status", status="RECEIVED", reference="PARK-1", subject="Parkausweis")
    citizen_token = leer.citizen_token()
    only = client.get(f"{kit.API}/messages?reference=HUND-7&kind=status", headers=kit.bearer(citizen_token)).get_json()
    assert [i["status"] for i in only["items"]] == ["PROCESSING", "RECEIVED", "SUBMITTED"]
    page = client.get("/postbox")
    text = page.get_data(as_text=True)
    assert "HUND-7" in text and "PARK-1" in text and "In Bearbeitung" in text


def test_a_message_names_the_municipality_its_portal_speaks_for(make_portal, citizen, client, runner, kit):
    """``clients create --municipality`` is what ``sender.municipality`` says; a portal registered
    without one says null rather than guessing."""
    created = runner.invoke(args=["clients", "create", "--name", "Bauportal", "--redirect-uri",
                                  "https://bau.example/callback", "--municipality", " Stadt Leer ", "--json"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["municipality"] == "Stadt Leer"
    with_town = make_portal("Bauportal Moormerland", "bau-moormerland.example", municipality="Moormerland")
    without = make_portal("Fachverfahren", "fach.example")
    for portal, expected in ((with_town, "Moormerland"), (without, None)):
        sent = portal.send(portal.portal_token(), portal.sub(), subject=f"Von {expected}")
        assert sent.status_code == 201, sent.get_json()
        read = client.get(f"{kit.API}/messages/{sent.get_json()['id']}", headers=kit.bearer(portal.citizen_token()))
        assert read.get_json()["sender"]["municipality"] == expected
    too_long = runner.invoke(args=["clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb",
                                   "--municipality", "M" * 201])
    assert too_long.exit_code != 0 and "200 characters" in too_long.output
