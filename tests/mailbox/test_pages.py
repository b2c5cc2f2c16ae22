"""The citizen's postbox pages: list with unread marks, reading, downloads, deletion, timelines."""

import base64

from support.a11y import check_page


def _send(leer, kit, **fields):
    response = leer.send(leer.portal_token(), leer.sub(), **fields)
    assert response.status_code == 201
    return response.get_json()["id"]


def test_inbox_marks_unread_and_reading_clears_the_mark(leer, citizen, browser, kit):
    message_id = _send(leer, kit, subject="Bescheid Hundesteuer", attachments=[
        {"filename": "bescheid.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())}])
    inbox = browser.get("/postbox")
    soup = check_page(inbox, 200)
    assert soup.find("html")["lang"] == "de"
    row = soup.select_one("tr.unread")
    assert row is not None and "Ungelesen" in row.get_text() and "Bescheid Hundesteuer" in row.get_text()
    page = browser.get(f"/postbox/{message_id}")
    soup = check_page(page, 200)
    assert soup.h1.get_text() == "Bescheid Hundesteuer" and "Stadt Leer" in soup.get_text()
    link = soup.select_one("a[download]")
    download = browser.get(link["href"])
    assert download.status_code == 200 and download.data == kit.pdf()
    assert check_page(browser.get("/postbox"), 200).select_one("tr.unread") is None


def _in_english(browser):
    """Switch the browser's session to English (remembered for the following pages)."""
    browser.get("/postbox?lang=en")


def test_the_message_page_only_leads_to_the_delete_question(leer, citizen, browser, kit):
    message_id = _send(leer, kit, subject="Zu löschen")
    _in_english(browser)
    page = check_page(browser.get(f"/postbox/{message_id}"), 200)
    # Nothing on the message page deletes: its button is a link to the question (WCAG 3.3.4).
    assert page.select("main form[method=post]") == []
    link = page.find("a", string="Delete this message")
    assert link["href"] == f"/postbox/{message_id}/delete" and "button" in link["class"]


def test_delete_question_names_the_message_and_deletes_nothing_itself(leer, citizen, browser, kit):
    message_id = _send(leer, kit, subject="Zu löschen")
    _in_english(browser)
    question = check_page(browser.get(f"/postbox/{message_id}/delete"), 200)
    assert question.h1.get_text() == "Delete message?"
    assert question.title.get_text().startswith("Delete message? – ")
    assert " ".join(question.select_one("main p").get_text().split()) == (
        "The message “Zu löschen” from Stadt Leer will be deleted from your postbox. This cannot be undone. "
        "Download important notices first.")
    form = question.select_one(f"main form[method=post][action='/postbox/{message_id}/delete']")
    assert form.select_one("input[name=csrf_token]") is not None
    assert form.select_one("button[type=submit]").get_text(strip=True) == "Delete for good"
    cancel = question.find("a", string="Cancel")
    assert cancel["href"] == f"/postbox/{message_id}"
    # Asking neither deletes nor opens the message; cancelling leads back to it.
    inbox = check_page(browser.get("/postbox"), 200)
    assert "Zu löschen" in inbox.select_one("tr.unread").get_text()
    assert check_page(browser.get(cancel["href"]), 200).h1.get_text() == "Zu löschen"


def test_delete_question_in_german(leer, citizen, browser, kit):
    message_id = _send(leer, kit, subject="Zu löschen")
    question = check_page(browser.get(f"/postbox/{message_id}/delete"), 200)
    assert question.html["lang"] == "de" and question.h1.get_text() == "Nachricht löschen?"
    assert " ".join(question.select_one("main p").get_text().split()) == (
        "Die Nachricht „Zu löschen“ von Stadt Leer wird aus Ihrem Postfach gelöscht. Das lässt sich nicht "
        "rückgängig machen. Laden Sie wichtige Bescheide vorher herunter.")
    assert question.select_one("main form button[type=submit]").get_text(strip=True) == "Endgültig löschen"
    assert question.find("a", string="Abbrechen")["href"] == f"/postbox/{message_id}"
    page = check_page(browser.get(f"/postbox/{message_id}"), 200)
    assert page.find("a", string="Diese Nachricht löschen")["href"] == f"/postbox/{message_id}/delete"


def test_only_the_confirmed_form_deletes_the_message(leer, citizen, browser, client, kit):
    message_id = _send(leer, kit, subject="Zu löschen")
    # Without the CSRF token nothing happens.
    client.post(f"/postbox/{message_id}/delete")
    assert "Zu löschen" in browser.get("/postbox").get_data(as_text=True)
    _in_english(browser)
    question = browser.get(f"/postbox/{message_id}/delete")
    response = browser.submit_page(question, {}, selector="main form[method=post]")
    assert response.status_code == 302 and response.headers["Location"] == "/postbox"
    inbox = check_page(browser.follow(response), 200)
    assert inbox.select_one(".flashes").get_text(strip=True) == "The message was deleted."
    assert "Zu löschen" not in inbox.get_text()
    assert browser.get(f"/postbox/{message_id}").status_code == 404
    assert browser.get(f"/postbox/{message_id}/delete").status_code == 404


def test_delete_question_of_another_citizens_message_is_not_found(leer, citizen, browser, make_account, kit):
    from support.plugin import sign_in

    message_id = _send(leer, kit)
    browser.submit("/sign-out", {})
    other = make_account()
    sign_in(browser, other["email"], other["password"])
    assert browser.get(f"/postbox/{message_id}/delete").status_code == 404


def test_timelines_and_account_section(leer, citizen, browser, kit):
    for state in ("SUBMITTED", "PROCESSING", "ACTION_REQUIRED"):
        _send(leer, kit, kind="status", status=state, reference="GEW-2026-3", subject=f"Gewerbe {state}")
    soup = check_page(browser.get("/postbox"), 200)
    timeline = soup.select_one("ol.timeline")
    steps = [li.get_text(" ", strip=True) for li in timeline.select("li")]
    assert ["Eingereicht" in steps[0], "In Bearbeitung" in steps[1], "Handlung erforderlich" in steps[2]] == [True] * 3
    assert "Aktueller Stand: Handlung erforderlich" in soup.get_text(" ", strip=True)
    account = check_page(browser.get("/account"), 200)
    section = account.select_one("section[aria-labelledby=postbox-h]")
    assert "Ungelesene Nachrichten: 3" in section.get_text() and section.select_one("a[href='/postbox']")


def test_pages_in_english_and_empty(citizen, browser):
    soup = check_page(browser.get("/postbox?lang=en"), 200)
    assert soup.h1.get_text() == "My postbox" and "There are no messages here." in soup.get_text()


def test_pages_need_sign_in_and_hide_other_citizens_messages(leer, citizen, browser, make_account, app, kit):
    from support.plugin import sign_in

    message_id = _send(leer, kit)
    assert app.test_client().get("/postbox").status_code == 302
    browser.submit("/sign-out", {})
    other = make_account()
    sign_in(browser, other["email"], other["password"])
    assert browser.get(f"/postbox/{message_id}").status_code == 404
    assert browser.get(f"/postbox/{message_id}/attachments/0").status_code == 404
    assert browser.get("/postbox?cursor=garbage").status_code == 302


def test_forged_cursor_on_the_inbox_starts_again_at_the_newest(leer, citizen, browser, kit):
    _send(leer, kit)
    for ident in (2**70, 0):
        raw = f'["2026-01-01T00:00:00", {ident}]'.encode()
        cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        response = browser.get(f"/postbox?cursor={cursor}")
        assert response.status_code == 302 and response.headers["Location"] == "/postbox", ident
