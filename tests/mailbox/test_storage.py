"""Encryption at rest, key rotation, retention, export and deletion with the account."""

import base64
import os

import pytest
from sqlalchemy import text


KEY_1 = base64.b64encode(b"1" * 32).decode()
KEY_2 = base64.urlsafe_b64encode(os.urandom(32)).decode()
SECRETS = ("Geheimer Betreff Hundesteuer", "Vertraulicher Inhalt des Bescheids", "steuerbescheid-erika.pdf",
           "VERTRAULICHES PDF")


@pytest.fixture
def app_config(app_config):
    return dict(app_config, POSTBOX_KEK=KEY_1)


def _send_secret(leer, kit):
    pdf = b"%PDF-1.4\n" + SECRETS[3].encode() + b"\n%%EOF"
    response = leer.send(leer.portal_token(), leer.sub(), subject=SECRETS[0], body=SECRETS[1], attachments=[
        {"filename": SECRETS[2], "content_type": "application/pdf", "content": kit.b64(pdf)}])
    assert response.status_code == 201
    return response.get_json()["id"], pdf


def _raw_rows(app) -> list[bytes]:
    from buergerkonto.idp.extensions import db

    with app.app_context():
        rows = []
        for table in ("postbox_message", "postbox_attachment"):
            for row in db.session.execute(text(f"SELECT * FROM {table}")):
                rows.append(b"|".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                                      for v in row))
        db.session.remove()
    return rows


def test_raw_rows_hold_no_plaintext(leer, citizen, app, client, kit):
    message_id, pdf = _send_secret(leer, kit)
    rows = _raw_rows(app)
    assert len(rows) == 2
    for row in rows:
        for secret in SECRETS:
            assert secret.encode() not in row
            assert base64.b64encode(secret.encode())[:20] not in row
    # ... yet the citizen reads it all.
    token = leer.citizen_token()
    message = client.get(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token)).get_json()
    assert message["subject"] == SECRETS[0] and message["body"] == SECRETS[1]
    assert client.get(f"{kit.API}/messages/{message_id}/attachments/0", headers=kit.bearer(token)).data == pdf


def test_sealed_values_cannot_be_moved_between_messages(leer, citizen, app, client, kit):
    from buergerkonto.idp.extensions import db

    first, _pdf = _send_secret(leer, kit)
    second = leer.send(leer.portal_token(), leer.sub(), subject="Harmlos").get_json()["id"]
    with app.app_context():
        db.session.execute(text("UPDATE postbox_message SET subject = (SELECT subject FROM postbox_message "
                                "WHERE public_id = :a) WHERE public_id = :b"), {"a": first, "b": second})
        db.session.commit()
        db.session.remove()
    with pytest.raises(Exception) as failure:
        with app.app_context():
            from buergerkonto.mailbox import service

            service.subject_of(service.find(citizen["id"], second))
    assert type(failure.value).__name__ == "InvalidTag"


def test_rotation_rewraps_data_keys_and_old_key_can_go(leer, citizen, app, make_app, client, kit):
    message_id, pdf = _send_secret(leer, kit)
    token = leer.citizen_token()
    # Step 1: every instance knows the new key and still the old one; reading keeps working.
    both = make_app(POSTBOX_KEK=KEY_2, POSTBOX_KEK_PREVIOUS=KEY_1)
    read = both.test_client().get(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token))
    assert read.status_code == 200 and read.get_json()["subject"] == SECRETS[0]
    # Step 2: re-wrap.
    result = both.test_cli_runner().invoke(args=["keys", "rotate-postbox", "--json"])
    assert result.exit_code == 0, result.output
    assert '"rewrapped": 1' in result.output
    again = both.test_cli_runner().invoke(args=["keys", "rotate-postbox", "--json"])
    assert '"rewrapped": 0' in again.output
    # Step 3: the old key is gone; the new one alone opens everything, the old one alone nothing.
    new_only = make_app(POSTBOX_KEK=KEY_2).test_client()
    read = new_only.get(f"{kit.API}/messages/{message_id}/attachments/0", headers=kit.bearer(token))
    assert read.status_code == 200 and read.data == pdf
    old_only = make_app(POSTBOX_KEK=KEY_1).test_client()
    response = old_only.get(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token))
    assert response.status_code == 503 and response.mimetype == "application/problem+json"


def test_malformed_kek_stops_the_start(app_config):
    from buergerkonto.idp import create_app

    with pytest.raises(ValueError):
        create_app(dict(app_config, POSTBOX_KEK="too-short"))


def test_deleted_messages_are_purged_after_the_retention_period(leer, citizen, app, client, runner, kit):
    message_id, _pdf = _send_secret(leer, kit)
    kept = leer.send(leer.portal_token(), leer.sub(), subject="Bleibt").get_json()["id"]
    token = leer.citizen_token()
    assert client.delete(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token)).status_code == 204
    result = runner.invoke(args=["postbox", "purge", "--json"])
    assert '"purged": 0' in result.output  # still within the retention period
    assert len(_raw_rows(app)) == 3
    result = runner.invoke(args=["postbox", "purge", "--days", "0", "--json"])
    assert '"purged": 1' in result.output, result.output
    assert len(_raw_rows(app)) == 1
    assert client.get(f"{kit.API}/messages/{kept}", headers=kit.bearer(token)).status_code == 200


def test_export_includes_the_postbox(leer, citizen, browser, kit):
    _send_secret(leer, kit)
    data = browser.get("/account/export").get_json()
    [message] = data["postbox"]
    assert message["subject"] == SECRETS[0] and message["body"] == SECRETS[1]
    assert message["attachments"][0]["filename"] == SECRETS[2] and message["sender"] == "Stadt Leer"
    assert message["language"] == "de"


def test_deleting_the_account_deletes_its_postbox(leer, citizen, browser, app, kit):
    from buergerkonto.idp.extensions import db

    _send_secret(leer, kit)
    sub = leer.sub()
    response = browser.submit("/account/delete", {"current_password": citizen["password"], "confirm": "y"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert _raw_rows(app) == []
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM postbox_portal_subject")).scalar() == 0
        db.session.remove()
    # The portal can no longer address the citizen.
    assert leer.send(leer.portal_token(), sub).status_code == 400
