"""How the citizen's postbox page hands out an attachment: not cached, not sniffed, not framed."""


def _message_with_pdf(leer, kit):
    response = leer.send(leer.portal_token(), leer.sub(), subject="Steuerbescheid", attachments=[
        {"filename": "bescheid.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())}])
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_page_download_of_a_notice_is_not_kept_in_the_browser_cache(leer, citizen, browser, client, kit):
    """Every page of the service says ``no-store`` (security_headers); the API download says so too.
    The postbox page's download of the same notice must not be left in a shared computer's disk cache."""
    message_id = _message_with_pdf(leer, kit)
    api = client.get(f"{kit.API}/messages/{message_id}/attachments/0", headers=kit.bearer(leer.citizen_token()))
    assert api.status_code == 200 and "no-store" in api.headers["Cache-Control"]
    page = browser.get(f"/postbox/{message_id}/attachments/0")
    assert page.status_code == 200 and page.data == kit.pdf()
    assert "no-store" in page.headers.get("Cache-Control", ""), page.headers.get("Cache-Control")


def test_page_download_is_an_attachment_with_nosniff_and_csp(leer, citizen, browser, kit):
    message_id = _message_with_pdf(leer, kit)
    page = browser.get(f"/postbox/{message_id}/attachments/0")
    assert page.headers["Content-Disposition"].startswith("attachment")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.mimetype == "application/pdf"
