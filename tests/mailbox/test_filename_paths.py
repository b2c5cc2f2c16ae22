"""Attachment file names "without paths", also as the download names them.

Werkzeug's send_file writes an ASCII fallback ``filename=`` next to ``filename*=`` by NFKD-normalising
the name and dropping what is not ASCII, and NFKD turns FULLWIDTH SOLIDUS (U+FF0F) into '/' and SMALL
REVERSE SOLIDUS (U+FE68) into '\\'. Such names are refused like '/' and '\\' themselves.
"""

import pytest


@pytest.mark.parametrize("name", ["..\uff0f..\uff0f.bashrc.pdf", "\ufe68\ufe68Windows\ufe68evil.pdf"])
def test_download_header_names_no_path(leer, citizen, browser, client, kit, name):
    sent = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": name, "content_type": "application/pdf", "content": kit.b64(kit.pdf())}])
    if sent.status_code != 201:
        return  # refused as a path: fine
    message_id = sent.get_json()["id"]
    for response in (browser.get(f"/postbox/{message_id}/attachments/0"),
                     client.get(f"{kit.API}/messages/{message_id}/attachments/0",
                                headers=kit.bearer(leer.citizen_token()))):
        assert response.status_code == 200
        disposition = response.headers["Content-Disposition"]
        fallback = disposition.split("filename*=")[0]
        assert "/" not in fallback and "\\" not in fallback, disposition


def test_very_long_unicode_name_and_many_attachments_are_served(leer, citizen, browser, kit):
    name = "\U0001F4C4" * 251 + ".pdf"  # 255 characters, 4 bytes each in UTF-8
    sent = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": name, "content_type": "application/pdf", "content": kit.b64(kit.pdf())}] * 20)
    assert sent.status_code == 201, sent.get_json()
    message_id = sent.get_json()["id"]
    response = browser.get(f"/postbox/{message_id}/attachments/19")
    assert response.status_code == 200 and "filename*=UTF-8''" in response.headers["Content-Disposition"]
    too_many = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": "a.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())}] * 21)
    assert too_many.status_code == 400


@pytest.mark.parametrize("name,content,ctype", [
    ("a.pdf\r\nX-Evil: 1", None, "application/pdf"),
    ("a.html", None, "application/pdf"),
    ("a.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg+xml"),
    ("a.pdf", b"<html><script>alert(1)</script>", "application/pdf"),
    ("a.pdf", b"<html><script>alert(1)</script>", "text/html"),
    ("a\u202efdp.cmd", None, "application/pdf"),
    ("Bescheid.pdf.cmd", None, "application/pdf"),
    ("a/b.pdf", None, "application/pdf"),
])
def test_dangerous_attachments_are_refused(leer, citizen, kit, name, content, ctype):
    content = content or kit.pdf()
    sent = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": name, "content_type": ctype, "content": kit.b64(content)}])
    assert sent.status_code in (400, 415), sent.get_json()
