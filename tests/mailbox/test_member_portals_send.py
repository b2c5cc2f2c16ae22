"""Only the network's member portals send to the shared postbox.

A portal outside the network (registered ``--external``) got ``postbox.send`` by default and needed no
consent of the citizen to write: a sign-in with ``openid`` alone indexed the citizen for it, and its
notices stood beside the municipalities' own, looking just like them. Its sends are refused (403).
"""


def test_external_portal_cannot_put_notices_into_the_official_postbox(make_portal, citizen, client, browser, kit):
    external = make_portal("Finanzamt Leer", "phish.example", external=True)
    sub = external.sub()  # the citizen signed in once with 'openid' only: no consent page for that
    token = external.portal_token("postbox.send")
    sent = external.send(token, sub, subject="Steuerbescheid 2025 – Nachzahlung fällig",
                         body="Bitte zahlen Sie umgehend auf das Konto DE00 ...", attachments=[
                             {"filename": "bescheid.pdf", "content_type": "application/pdf",
                              "content": kit.b64(kit.pdf())}])
    # The notice now stands in the citizen's official postbox beside the municipalities' own,
    # with nothing telling it apart: a member-only write path should refuse it.
    inbox = browser.get("/postbox").get_data(as_text=True)
    assert sent.status_code in (400, 403), (sent.status_code, "Steuerbescheid 2025" in inbox)
