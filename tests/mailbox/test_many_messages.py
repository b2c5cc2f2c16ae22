"""Many messages for one citizen: one notification mail for a burst, idempotency across portals and after
deletion, the export of a password-only session, forged cursors."""

import json


def test_a_burst_of_sends_becomes_one_mail_and_a_later_message_another(app, leer, citizen, smtp, kit):
    """A portal retrying without an Idempotency-Key (or many portals at once) sent one "Neue Nachricht"
    mail per message, up to the send limit of 600 a minute. One mail tells it all for a while."""
    token, sub = leer.portal_token(), leer.sub()
    for number in range(15):
        assert leer.send(token, sub, subject=f"Nachricht {number}").status_code == 201
    smtp.settle()
    assert len(smtp.to(citizen["email"])) == 1
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import ThrottleCounter
    from buergerkonto.mailbox import service

    with app.app_context():  # the period is over
        for counter in ThrottleCounter.query.filter(ThrottleCounter.key.startswith("postbox-mail:")):
            counter.locked_until -= service.NOTIFY_AT_MOST_EVERY
        db.session.commit()
        db.session.remove()
    assert leer.send(token, sub, subject="Nachricht später").status_code == 201
    smtp.settle()
    assert len(smtp.to(citizen["email"])) == 2


def test_idempotency_keys_are_per_portal_and_replay_after_delete_sends_nothing_new(leer, landkreis, citizen,
                                                                                   client, kit, smtp):
    a_sub, b_sub = leer.sub(), landkreis.sub()
    first = leer.send(leer.portal_token(), a_sub, key="K-1", subject="A")
    second = landkreis.send(landkreis.portal_token(), b_sub, key="K-1", subject="B")
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]
    assert "Idempotent-Replayed" not in second.headers
    token = leer.citizen_token()
    assert client.delete(f"{kit.API}/messages/{first.get_json()['id']}", headers=kit.bearer(token)).status_code == 204
    smtp.settle()
    before = len(smtp.to(citizen["email"]))
    again = leer.send(leer.portal_token(), a_sub, key="K-1", subject="A")
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    items = client.get(f"{kit.API}/messages", headers=kit.bearer(token)).get_json()["items"]
    assert [i["subject"] for i in items] == ["B"]
    smtp.settle()
    assert len(smtp.to(citizen["email"])) == before
    # Portal B cannot learn about A's key by a different body: it is its own.
    other = landkreis.send(landkreis.portal_token(), b_sub, key="K-1", subject="different")
    assert other.status_code == 409


def test_export_of_a_password_only_session_withholds_locked_messages(leer, citizen, browser, kit):
    leer.send(leer.portal_token(), leer.sub(), min_level="high", subject="Geheim", body="Inhalt",
              reference="AZ-GEHEIM", attachments=[{"filename": "geheim.pdf", "content_type": "application/pdf",
                                                   "content": kit.b64(kit.pdf())}])
    response = browser.get("/account/export")
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    text = response.get_data(as_text=True)
    assert "Geheim" not in text and "AZ-GEHEIM" not in text and "geheim.pdf" not in text
    [item] = json.loads(text)["postbox"]
    assert item["locked"] is True


def test_forged_cursor_cannot_reach_another_citizens_messages(leer, citizen, client, make_account, kit, app):
    import base64

    from buergerkonto.mailbox.models import Message

    token, sub = leer.portal_token(), leer.sub()
    for number in range(3):
        leer.send(token, sub, subject=f"N{number}")
    with app.app_context():
        biggest = max(m.id for m in Message.query.all())
    cursor = base64.urlsafe_b64encode(json.dumps(["9999-12-31T00:00:00", biggest + 10]).encode()).rstrip(b"=").decode()
    # A fresh citizen (other account) with that cursor sees nothing.
    from support.plugin import sign_in
    other = make_account()
    leer.browser.get("/sign-out")
    leer.browser.submit("/sign-out", {})
    sign_in(leer.browser, other["email"], other["password"])
    other_token = leer.citizen_token()
    page = client.get(f"{kit.API}/messages?cursor={cursor}", headers=kit.bearer(other_token))
    assert page.status_code == 200 and page.get_json()["items"] == []
