"""File sizes on the postbox pages in the page's language: "24,8 kB" in German, "24.8 kB" in English."""

import pytest
from flask_babel import force_locale

from support.a11y import check_page


@pytest.mark.parametrize("size, german, english", [
    (1000, "1,0 kB", "1.0 kB"),
    (24_800, "24,8 kB", "24.8 kB"),
    (999_949, "999,9 kB", "999.9 kB"),
    (999_999, "1,0 MB", "1.0 MB"),  # not "1000,0 kB": the unit is chosen as the number is shown
    (10 * 1024 * 1024, "10,5 MB", "10.5 MB"),
    (1_234_567_890_123, "1.234,6 GB", "1,234.6 GB"),
])
def test_sizes_are_written_with_the_languages_decimal_mark(app, size, german, english):
    from buergerkonto.mailbox.formatting import file_size

    with app.test_request_context():
        with force_locale("de"):
            assert file_size(size) == german
        with force_locale("en"):
            assert file_size(size) == english


def test_sizes_below_a_kilobyte_are_counted_in_bytes(app):
    from buergerkonto.mailbox.formatting import file_size

    with app.test_request_context():
        with force_locale("en"):
            assert [file_size(n) for n in (1, 2, 999)] == ["1 byte", "2 bytes", "999 bytes"]
        with force_locale("de"):
            assert [file_size(n) for n in (1, 2, 999)] == ["1 Byte", "2 Byte", "999 Byte"]


def test_message_page_writes_attachment_sizes_in_its_language(leer, citizen, browser, kit):
    content = kit.pdf() * 400
    message_id = leer.send(leer.portal_token(), leer.sub(), attachments=[
        {"filename": "bescheid.pdf", "content_type": "application/pdf", "content": kit.b64(content)}]).get_json()["id"]
    english = f"{len(content) / 1000:.1f} kB"
    assert "." in english  # the decimal mark is what differs
    item = check_page(browser.get(f"/postbox/{message_id}"), 200).select_one("main li")
    assert item.get_text(" ", strip=True) == f"bescheid.pdf (PDF, {english.replace('.', ',')})"
    item = check_page(browser.get(f"/postbox/{message_id}?lang=en"), 200).select_one("main li")
    assert item.get_text(" ", strip=True) == f"bescheid.pdf (PDF, {english})"
