"""Attachments kept in a directory: files named at random, holding only ciphertext, gone with the message."""

import pytest


@pytest.fixture
def app_config(app_config, tmp_path):
    return dict(app_config, POSTBOX_ATTACHMENT_DIR=str(tmp_path / "attachments"))


def test_files_hold_only_ciphertext_and_are_read_back(leer, citizen, client, app, kit, tmp_path):
    pdf = b"%PDF-1.4\nGEHEIMER BESCHEID\n%%EOF"
    sent = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": "bescheid-geheim.pdf", "content_type": "application/pdf", "content": kit.b64(pdf)}])
    message_id = sent.get_json()["id"]
    folder = tmp_path / "attachments"
    [stored] = list(folder.iterdir())
    assert "bescheid" not in stored.name and oct(stored.stat().st_mode & 0o777) == "0o600"
    assert b"GEHEIM" not in stored.read_bytes() and b"%PDF" not in stored.read_bytes()
    token = leer.citizen_token()
    download = client.get(f"{kit.API}/messages/{message_id}/attachments/0", headers=kit.bearer(token))
    assert download.data == pdf
    assert client.delete(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token)).status_code == 204
    result = app.test_cli_runner().invoke(args=["postbox", "purge", "--days", "0"])
    assert result.exit_code == 0
    assert list(folder.iterdir()) == []
