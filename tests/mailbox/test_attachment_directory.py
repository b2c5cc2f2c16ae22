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


def _files(tmp_path) -> list:
    folder = tmp_path / "attachments"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _pdf_attachment(kit, text="Bescheid"):
    return [{"filename": "bescheid.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf(text))}]


def test_a_send_that_rolls_back_leaves_no_file(leer, citizen, app, kit, tmp_path):
    from support.faults import allow_events, refuse_event

    token, sub = leer.portal_token(), leer.sub()
    # The database refuses the send's event, the last thing a send writes: its file was written by then.
    refuse_event(app, "postbox:message:send")
    response = leer.send(token, sub, attachments=_pdf_attachment(kit))
    assert response.status_code == 500
    assert _files(tmp_path) == []
    allow_events(app)
    assert leer.send(token, sub, attachments=_pdf_attachment(kit)).status_code == 201
    assert len(_files(tmp_path)) == 1


def test_refused_sends_write_no_file(leer, citizen, kit, tmp_path):
    token, sub = leer.portal_token(), leer.sub()
    assert leer.send(token, sub, key="einmal", attachments=_pdf_attachment(kit)).status_code == 201
    [first] = _files(tmp_path)
    # The same key with another request; and a recipient the portal does not know.
    assert leer.send(token, sub, key="einmal", subject="Anders", attachments=_pdf_attachment(kit)).status_code == 409
    assert leer.send(token, "unbekannt", attachments=_pdf_attachment(kit)).status_code == 400
    # A retry that is replayed stores nothing either.
    assert leer.send(token, sub, key="einmal", attachments=_pdf_attachment(kit)).status_code == 201
    assert _files(tmp_path) == [first]


def test_a_purge_that_rolls_back_keeps_the_files(leer, citizen, app, client, kit, tmp_path):
    from support.faults import allow_events, refuse_event

    pdf = kit.pdf("Aufbewahren")
    message_id = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": "a.pdf", "content_type": "application/pdf", "content": kit.b64(pdf)}]).get_json()["id"]
    token = leer.citizen_token()
    assert client.delete(f"{kit.API}/messages/{message_id}", headers=kit.bearer(token)).status_code == 204
    refuse_event(app, "postbox:message:purge")
    result = app.test_cli_runner().invoke(args=["postbox", "purge", "--days", "0"])
    assert result.exit_code != 0
    assert len(_files(tmp_path)) == 1  # the rows are still there, and so are their files
    with app.app_context():
        from buergerkonto.idp.extensions import db
        from buergerkonto.mailbox import service
        from buergerkonto.mailbox.models import Message

        message = Message.query.filter_by(public_id=message_id).one()
        assert service.attachment_content(message, 0)[2] == pdf
        db.session.remove()
    allow_events(app)
    result = app.test_cli_runner().invoke(args=["postbox", "purge", "--days", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert '"purged": 1' in result.output and _files(tmp_path) == []


def test_purge_sweeps_old_files_no_message_names_and_spares_young_ones(leer, citizen, app, kit, tmp_path):
    """A process that died between writing a file and committing its row leaves an orphan;
    the sweep takes it once it is older than any send could be, and only then."""
    import os
    import secrets
    import time

    assert leer.send(leer.portal_token(), leer.sub(), attachments=_pdf_attachment(kit)).status_code == 201
    folder = tmp_path / "attachments"
    [kept] = _files(tmp_path)
    two_hours_ago = time.time() - 7200
    old_orphan, young_orphan, old_partial = secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16)
    (folder / old_orphan).write_bytes(b"sealed, of a send that died")
    (folder / young_orphan).write_bytes(b"sealed, of a send still in flight")
    (folder / f".{old_partial}.tmp").write_bytes(b"half written")
    (folder / "README").write_text("not ours")
    for name in (kept, old_orphan, f".{old_partial}.tmp", "README"):
        os.utime(folder / name, (two_hours_ago, two_hours_ago))

    result = app.test_cli_runner().invoke(args=["postbox", "purge", "--json"])
    assert result.exit_code == 0, result.output
    assert '"orphaned_files_removed": 2' in result.output
    assert _files(tmp_path) == sorted([kept, young_orphan, "README"])
