"""Past 2,147,483,647 rows: tokens, sessions, events, mails and messages keep getting ids.

Migration 0010 made these ids BIGINT on PostgreSQL, and their sequences too: a
SERIAL's sequence has a type of its own, and an INTEGER one would refuse the next
value even in a BIGINT column. Here every sequence starts beyond the 32-bit range,
then a citizen signs in, portals get tokens and send a message with an attachment,
and the citizen's mail goes out.
"""

import pytest
from sqlalchemy import text

BEYOND_32_BITS = 2**31 + 1_000
GROWING = ("oauth_authorization_code", "oauth_token", "oidc_portal_sign_in", "web_session", "event",
           "mail_outbox", "postbox_message", "postbox_attachment")


@pytest.fixture
def ids_beyond_32_bits(app, backend):
    if backend != "postgresql":
        pytest.skip("SQLite's INTEGER PRIMARY KEY is a 64-bit rowid")
    from buergerkonto.idp.extensions import db

    with app.app_context():
        for table in GROWING:
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {BEYOND_32_BITS})"))
        db.session.commit()
        db.session.remove()


def test_every_growing_table_takes_ids_beyond_32_bits(ids_beyond_32_bits, leer, landkreis, citizen, client,
                                                     smtp, app, kit):
    recipient = leer.sub()  # sign-in session, events, a code, the portal's sign-in, tokens
    sent = leer.send(leer.portal_token(), recipient, key="beyond-32-bits",
                     attachments=[{"filename": "bescheid.pdf", "content_type": "application/pdf",
                                   "content": kit.b64(kit.pdf())}])
    assert sent.status_code == 201, sent.get_json()
    smtp.wait_for(citizen["email"])

    token = landkreis.citizen_token()
    listing = client.get(f"{kit.API}/messages", headers=kit.bearer(token))
    [item] = listing.get_json()["items"]
    assert item["id"] == sent.get_json()["id"] and item["attachment_count"] == 1
    download = client.get(f"{kit.API}/messages/{item['id']}/attachments/0", headers=kit.bearer(token))
    assert download.status_code == 200

    from buergerkonto.idp.extensions import db

    with app.app_context():
        for table in GROWING:
            assert db.session.execute(text(f"SELECT min(id) FROM {table}")).scalar() > BEYOND_32_BITS, table
        db.session.remove()
