"""Level gating: a message above the sign-in's level shows sender and date only, until step-up."""

from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from support.a11y import check_page
from support.plugin import enable_totp, sign_in


@pytest.fixture
def proven(app):
    """Identity proofing at ``substantial`` for every account (what trust_levels registers after a check)."""
    app.extensions["buergerkonto.hooks"].proofing_level.append(lambda account: "substantial")


@pytest.fixture
def totp_citizen(app, make_account, browser, proven):
    """A citizen with two-step sign-in, signed in with password and code (level substantial)."""
    account = make_account()
    secret = enable_totp(app, account["id"])
    response = sign_in(browser, account["email"], account["password"])
    assert response.status_code == 302 and "/second-factor" in response.headers["Location"]
    done = browser.submit(response.headers["Location"], {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    return dict(account, secret=secret)


def test_low_token_lists_sender_and_date_only_and_must_step_up(leer, citizen, client, kit):
    sent = leer.send(leer.portal_token(), leer.sub(), min_level="substantial", reference="AZ-1", attachments=[
        {"filename": "a.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())}])
    message_id = sent.get_json()["id"]
    token = leer.citizen_token()
    [item] = client.get(f"{kit.API}/messages", headers=kit.bearer(token)).get_json()["items"]
    assert item["locked"] is True and item["sender"]["name"] == "Stadt Leer" and item["created_at"]
    assert not {"subject", "reference", "kind", "status", "attachment_count"} & set(item)
    for path in ("", "/attachments/0"):
        response = client.get(f"{kit.API}/messages/{message_id}{path}", headers=kit.bearer(token))
        assert response.status_code == 401 and response.mimetype == "application/problem+json"
        assert 'error="insufficient_user_authentication"' in response.headers["WWW-Authenticate"]
        assert 'acr_values="http://eidas.europa.eu/LoA/substantial"' in response.headers["WWW-Authenticate"]
        assert response.get_json()["min_level"] == "substantial"
    # Still unread: looking at a locked message does not open it.
    status = client.get(f"{kit.API}/messages/{message_id}/status", headers=kit.bearer(leer.portal_token()))
    assert status.get_json()["state"] == "delivered"


def test_token_from_a_substantial_sign_in_reads_it(leer, totp_citizen, client, kit):
    sent = leer.send(leer.portal_token(), leer.sub(), min_level="substantial")
    tokens = leer.citizen_tokens(acr_values="http://eidas.europa.eu/LoA/substantial")
    response = client.get(f"{kit.API}/messages/{sent.get_json()['id']}", headers=kit.bearer(tokens["access_token"]))
    assert response.status_code == 200 and response.get_json()["subject"] == "Ihr Bescheid"
    # ... but not a message for "high".
    high = leer.send(leer.portal_token(), leer.sub(), min_level="high").get_json()["id"]
    response = client.get(f"{kit.API}/messages/{high}", headers=kit.bearer(tokens["access_token"]))
    assert response.status_code == 401 and response.get_json()["min_level"] == "high"


def test_postbox_page_locks_message_above_the_session_level(leer, citizen, browser, kit):
    message_id = leer.send(leer.portal_token(), leer.sub(), min_level="substantial",
                           subject="Nur substantiell").get_json()["id"]
    inbox = browser.get("/postbox")
    check_page(inbox, 200)
    assert "Nur substantiell" not in inbox.get_data(as_text=True)
    locked = browser.get(f"/postbox/{message_id}")
    check_page(locked, 403)
    text = locked.get_data(as_text=True)
    assert "Nur substantiell" not in text and "Vertrauensniveau" in text
    assert browser.get(f"/postbox/{message_id}/attachments/0").status_code == 404


def test_locked_messages_are_told_apart_by_sender_date_and_level(leer, landkreis, citizen, browser):
    leer.send(leer.portal_token(), leer.sub(), min_level="substantial", subject="Geheim 1")
    landkreis.send(landkreis.portal_token(), landkreis.sub(), min_level="high", subject="Geheim 2")
    soup = check_page(browser.get("/postbox?lang=en"), 200)
    rows = [[cell for cell in row.select("td")] for row in soup.select("table.postbox tbody tr")]
    texts = [subject.a.get_text(" ", strip=True) for subject, _sender, _date in rows]
    # Each link says on its own what it opens (WCAG 2.4.4): sender, date and the level it needs.
    assert texts == [f"Message from Landkreis Leer of {rows[0][2].get_text(strip=True)} (needs trust level “high”)",
                     f"Message from Stadt Leer of {rows[1][2].get_text(strip=True)} (needs trust level “substantial”)"]
    assert "Geheim" not in soup.get_text()
    german = check_page(browser.get("/postbox?lang=de"), 200)
    rows = [row.select("td") for row in german.select("table.postbox tbody tr")]
    assert [subject.a.get_text(" ", strip=True) for subject, _sender, _date in rows] == [
        f"Nachricht von Landkreis Leer vom {rows[0][2].get_text(strip=True)} (erfordert Vertrauensniveau „hoch“)",
        f"Nachricht von Stadt Leer vom {rows[1][2].get_text(strip=True)} (erfordert Vertrauensniveau „substantiell“)"]


def test_inbox_timelines_leave_out_what_the_session_level_does_not_open(leer, citizen, browser):
    token, sub = leer.portal_token(), leer.sub()
    # An application only a "high" sign-in may see, and one whose latest update is locked.
    leer.send(token, sub, min_level="high", kind="status", status="ACTION_REQUIRED", reference="SOZ-4711")
    leer.send(token, sub, kind="status", status="SUBMITTED", reference="GEW-2026-3")
    locked_id = leer.send(token, sub, min_level="substantial", kind="status", status="COMPLETED",
                          reference="GEW-2026-3").get_json()["id"]
    soup = check_page(browser.get("/postbox"), 200)
    assert "SOZ-4711" not in soup.get_text()
    [timeline] = soup.select("ol.timeline")
    [step] = [li.get_text(" ", strip=True) for li in timeline.select("li")]
    assert "Eingereicht" in step and locked_id not in str(timeline)
    assert "Aktueller Stand: Eingereicht" in soup.get_text(" ", strip=True)
    assert "Abgeschlossen" not in soup.get_text() and "Handlung erforderlich" not in soup.get_text()


def test_list_filters_on_reference_and_kind_never_match_a_locked_message(leer, totp_citizen, client, kit):
    token, sub = leer.portal_token(), leer.sub()
    opened, locked = (leer.send(token, sub, min_level=level, kind="status", status="ACTION_REQUIRED",
                                reference="SOZ-4711").get_json()["id"] for level in ("substantial", "high"))
    reader = leer.citizen_token(acr_values="http://eidas.europa.eu/LoA/substantial")

    def listed(**params):
        response = client.get(f"{kit.API}/messages", query_string=params, headers=kit.bearer(reader))
        return [item["id"] for item in response.get_json()["items"]]

    assert listed() == listed(unread="true") == [locked, opened]
    # What the locked summary withholds, a filter must not tell either; the opened one still matches.
    for params in ({"reference": "SOZ-4711"}, {"kind": "status"}, {"reference": "SOZ-4711", "kind": "status"}):
        assert listed(**params) == [opened], params


def test_delete_question_of_a_locked_message_withholds_the_subject_and_deletes_nothing(leer, citizen, browser,
                                                                                        client, kit):
    message_id = leer.send(leer.portal_token(), leer.sub(), min_level="substantial",
                           subject="Nur substantiell").get_json()["id"]
    question = browser.get(f"/postbox/{message_id}/delete")
    soup = check_page(question, 403)
    # The same answer as the message page gives: sender and date, how to step up, no way to delete.
    assert soup.h1.get_text() == check_page(browser.get(f"/postbox/{message_id}"), 403).h1.get_text()
    assert "Nur substantiell" not in question.get_data(as_text=True)
    assert soup.select("main form") == []
    # A forged confirmation (with a valid CSRF token) deletes nothing either.
    response = browser.post(f"/postbox/{message_id}/delete", data={"csrf_token": browser.csrf_token("/account")})
    assert response.status_code == 302
    status = client.get(f"{kit.API}/messages/{message_id}/status", headers=kit.bearer(leer.portal_token()))
    assert status.get_json()["state"] == "delivered"


def test_stepping_up_from_a_locked_delete_question_comes_back_to_it(app, leer, citizen, browser, proven, kit):
    message_id = leer.send(leer.portal_token(), leer.sub(), min_level="substantial",
                           subject="Nur substantiell").get_json()["id"]
    secret = enable_totp(app, citizen["id"])  # after the password sign-in: this session is still "low"
    question = f"/postbox/{message_id}/delete"
    step_up = check_page(browser.get(question), 403).select_one("main a[href^='/sign-in/second-factor']")
    assert parse_qs(urlsplit(step_up["href"]).query)["next"] == [question]
    done = browser.submit(step_up["href"], {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and done.headers["Location"] == question
    assert "Nur substantiell" in check_page(browser.get(question), 200).select_one("main p").get_text()


def test_locked_page_names_the_authenticator_app_and_links_the_identity_check(app, leer, citizen, browser, proven):
    message_id = leer.send(leer.portal_token(), leer.sub(), min_level="substantial").get_json()["id"]
    enable_totp(app, citizen["id"])
    soup = check_page(browser.get(f"/postbox/{message_id}?lang=en"), 403)
    links = {a.get_text(strip=True): urlsplit(a["href"]) for a in soup.select("main ul a")}
    assert set(links) == {"Confirm your sign-in with the code from your authenticator app",
                          "Have your identity confirmed at any Bürgerbüro of the district"}
    step_up = links["Confirm your sign-in with the code from your authenticator app"]
    assert step_up.path == "/sign-in/second-factor"
    assert parse_qs(step_up.query)["next"] == [f"/postbox/{message_id}"]
    identity = links["Have your identity confirmed at any Bürgerbüro of the district"]
    assert identity.path == "/account/identity" and check_page(browser.get(identity.path), 200)
    german = check_page(browser.get(f"/postbox/{message_id}?lang=de"), 403)
    assert [a.get_text(strip=True) for a in german.select("main ul a")] == [
        "Anmeldung mit dem Code aus Ihrer Authenticator-App bestätigen",
        "Identität in einem beliebigen Bürgerbüro des Landkreises bestätigen lassen"]


def test_locked_page_without_a_second_factor_still_links_the_identity_check(leer, citizen, browser):
    message_id = leer.send(leer.portal_token(), leer.sub(), min_level="high").get_json()["id"]
    soup = check_page(browser.get(f"/postbox/{message_id}?lang=en"), 403)
    assert [(a.get_text(strip=True), a["href"]) for a in soup.select("main ul a")] == [
        ("Have your identity confirmed at any Bürgerbüro of the district", "/account/identity")]


def test_the_data_export_withholds_what_the_sign_in_s_level_does_not_open(app, leer, citizen, browser, proven, kit):
    sub, token = leer.sub(), leer.portal_token()
    leer.send(token, sub, subject="Offen", body="Für jede Anmeldung")
    leer.send(token, sub, min_level="substantial", subject="Steuerbescheid", body="Steuerschuld 12.345 EUR",
              reference="AZ-7", attachments=[{"filename": "Pfaendung.pdf", "content_type": "application/pdf",
                                              "content": kit.b64(kit.pdf())}])
    export = browser.get("/account/export")
    opened, locked = export.get_json()["postbox"]
    assert opened["subject"] == "Offen" and opened["locked"] is False
    assert locked == {"id": locked["id"], "sender": "Stadt Leer", "created_at": locked["created_at"],
                      "min_level": "substantial", "locked": True}
    for withheld in ("Steuerbescheid", "12.345", "Pfaendung", "AZ-7"):
        assert withheld not in export.get_data(as_text=True)

    secret = enable_totp(app, citizen["id"])  # the second factor raises this sign-in to substantial
    assert browser.submit("/sign-in/second-factor?next=/account", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    _, now_open = browser.get("/account/export").get_json()["postbox"]
    assert now_open["locked"] is False and now_open["body"] == "Steuerschuld 12.345 EUR"
    assert now_open["attachments"][0]["filename"] == "Pfaendung.pdf" and now_open["reference"] == "AZ-7"
