"""The language of a message (a BCP 47 tag sent by the portal) marks its subject and body on the pages.

A German notice on an English page is read out in German only when its
element says lang="de" (WCAG 3.1.2, Language of Parts).
"""

import pytest

from support.a11y import check_page

GOOD_TAGS = {"de": "de", "en": "en", "tr": "tr", "de-DE": "de-DE", "DE-de": "de-DE", "gsw": "gsw",
             "sr-latn-rs": "sr-Latn-RS", "zh-Hant": "zh-Hant", "es-419": "es-419"}
BAD_TAGS = ["", "d", "german", "deu-", "de_DE", "de-DEU", "de-1996", "de-DE-1996", "de-DE-x-foo", "x-klingon",
            "i-klingon", "de\n", " de", 5, ["de"]]


@pytest.fixture
def send(leer, citizen):
    token, sub = leer.portal_token(), leer.sub()

    def call(**fields):
        return leer.send(token, sub, **fields)

    return call


def _sent(response) -> str:
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_language_is_kept_as_sent_in_the_case_rfc_5646_writes_it(send, leer, client, kit):
    ids = {tag: _sent(send(language=tag)) for tag in GOOD_TAGS}
    reader = kit.bearer(leer.citizen_token())
    for tag, stored in GOOD_TAGS.items():
        assert client.get(f"{kit.API}/messages/{ids[tag]}", headers=reader).get_json()["language"] == stored, tag
    listed = {item["id"]: item["language"] for item in client.get(f"{kit.API}/messages?limit=100",
                                                                   headers=reader).get_json()["items"]}
    assert listed == {ids[tag]: stored for tag, stored in GOOD_TAGS.items()}


def test_language_left_out_is_german(send, leer, client, kit):
    message_id = _sent(send())
    read = client.get(f"{kit.API}/messages/{message_id}", headers=kit.bearer(leer.citizen_token()))
    assert read.get_json()["language"] == "de"


def test_language_must_be_a_short_well_formed_tag(send):
    for value in BAD_TAGS + [None]:
        response = send(language=value)
        assert response.status_code == 400, value
        assert [e["pointer"] for e in response.get_json()["errors"]] == ["/language"], value


def test_a_locked_summary_withholds_the_language_with_the_subject(send, leer, client, kit):
    _sent(send(language="tr", min_level="substantial"))
    [item] = client.get(f"{kit.API}/messages", headers=kit.bearer(leer.citizen_token())).get_json()["items"]
    assert item["locked"] is True and "language" not in item


def test_a_german_notice_on_an_english_page_is_marked_german(send, browser):
    message_id = _sent(send(subject="Bescheid Hundesteuer", body="Sehr geehrte Frau Mustermann,\nanbei der Bescheid."))
    inbox = check_page(browser.get("/postbox?lang=en"), 200)
    assert inbox.html["lang"] == "en"
    assert inbox.find("a", string="Bescheid Hundesteuer")["lang"] == "de"
    page = check_page(browser.get(f"/postbox/{message_id}"), 200)
    assert page.html["lang"] == "en"
    assert page.h1["lang"] == "de" and page.h1.get_text() == "Bescheid Hundesteuer"
    body = page.select_one(".message-body")
    assert body["lang"] == "de" and "Sehr geehrte Frau Mustermann" in body.get_text()
    # Only the message is German: the page's own texts around it stay unmarked.
    assert [element.name for element in page.select("main [lang]")] == ["h1", "div"]
    question = check_page(browser.get(f"/postbox/{message_id}/delete"), 200)
    [subject] = question.select("main [lang]")
    assert subject["lang"] == "de" and subject.get_text() == "Bescheid Hundesteuer"
    assert subject.parent.name == "p" and "will be deleted from your postbox" in subject.parent.get_text()


def test_a_notice_in_another_language_is_marked_with_it(send, browser):
    message_id = _sent(send(subject="Vergi bildirimi", body="Sayın Bayan Mustermann", language="tr"))
    inbox = check_page(browser.get("/postbox"), 200)
    assert inbox.html["lang"] == "de" and inbox.find("a", string="Vergi bildirimi")["lang"] == "tr"
    page = check_page(browser.get(f"/postbox/{message_id}"), 200)
    assert page.h1["lang"] == "tr" and page.select_one(".message-body")["lang"] == "tr"


def test_account_page_marks_the_subject_too(send, browser):
    _sent(send(subject="Bescheid Hundesteuer"))
    account = check_page(browser.get("/account?lang=en"), 200)
    section = account.select_one("section[aria-labelledby=postbox-h]")
    assert section.find("a", string="Bescheid Hundesteuer")["lang"] == "de"


def test_messages_stored_before_the_field_are_german(app, send):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select

    from buergerkonto.idp.extensions import db
    from buergerkonto.mailbox.models import Message

    message_id = _sent(send(language="tr"))
    with app.app_context():
        db.session.remove()
        downgrade(revision="0009_postbox_message_language-1")  # the column goes, the row stays
        upgrade()
        assert db.session.scalar(select(Message.language).where(Message.public_id == message_id)) == "de"
