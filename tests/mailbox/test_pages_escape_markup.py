"""Markup sent by a portal (subject, body, reference, reply_to, file name, its own name) stays text."""

import pytest

EVIL = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


@pytest.fixture
def evil_portal(make_portal):
    return make_portal("Stadt <b>Leer</b>" + EVIL, "evil.example")


def _pages(browser, message_id):
    return {path: browser.get(path) for path in
            ("/postbox", f"/postbox/{message_id}", f"/postbox/{message_id}/delete", "/account", "/postbox?lang=en")}


def test_markup_from_the_portal_is_escaped_on_every_postbox_page(evil_portal, citizen, browser, kit):
    sub = evil_portal.sub()
    token = evil_portal.portal_token()
    sent = evil_portal.send(token, sub, subject="Betreff " + EVIL, body="Zeile 1\n" + EVIL + "\n[x](javascript:alert(3))",
                            kind="status", status="RECEIVED", reference="AZ" + EVIL[:60],
                            reply_to="x@leer.example", attachments=[
                                {"filename": "a" + "'\"><svg onload=alert(4)>.pdf", "content_type": "application/pdf",
                                 "content": kit.b64(kit.pdf())}])
    assert sent.status_code == 201, sent.get_json()
    message_id = sent.get_json()["id"]
    for path, response in _pages(browser, message_id).items():
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        assert "<img src=x" not in text and "<script>alert" not in text and "<svg onload" not in text, path
        assert "<b>Leer</b>" not in text, path
        assert 'href="javascript:' not in text, path
    download = browser.get(f"/postbox/{message_id}/attachments/0")
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith("attachment;")


def test_locked_page_escapes_the_sender(evil_portal, citizen, browser):
    sub = evil_portal.sub()
    message_id = evil_portal.send(evil_portal.portal_token(), sub, min_level="high").get_json()["id"]
    for path in ("/postbox", f"/postbox/{message_id}", f"/postbox/{message_id}/delete", "/postbox?lang=en",
                 f"/postbox/{message_id}?lang=en"):
        text = browser.get(path).get_data(as_text=True)
        assert "<img src=x" not in text and "<script>alert" not in text, path
