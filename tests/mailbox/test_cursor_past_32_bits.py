"""The postbox API's own cursor is accepted back once message ids pass 32 bits (migration 0010)."""

import pytest
from sqlalchemy import text

BEYOND_32_BITS = 2**31 + 1_000


def test_the_next_cursor_works_once_message_ids_pass_32_bits(app, backend, leer, landkreis, citizen, client, kit):
    """Migration 0010 made postbox_message.id BIGINT on PostgreSQL, but mailbox/service.py still accepts
    only cursor ids in range(1, 2**31) (CURSOR_IDS): the cursor the API itself hands out for a message past
    2,147,483,647 is refused as "not valid" (400), and the citizen's postbox cannot be paged any further."""
    if backend != "postgresql":
        pytest.skip("SQLite's ids are 64-bit rowids anyway; the sequence is PostgreSQL's")
    from buergerkonto.idp.extensions import db

    with app.app_context():
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('postbox_message', 'id'), {BEYOND_32_BITS})"))
        db.session.commit()
        db.session.remove()
    recipient = leer.sub()
    portal_token = leer.portal_token()
    for number in range(2):
        assert leer.send(portal_token, recipient, subject=f"Bescheid {number}").status_code == 201
    token = landkreis.citizen_token()
    first = client.get(f"{kit.API}/messages?limit=1", headers=kit.bearer(token))
    assert first.status_code == 200
    cursor = first.get_json()["next_cursor"]
    assert cursor
    second = client.get(f"{kit.API}/messages?limit=1&cursor={cursor}", headers=kit.bearer(token))
    assert second.status_code == 200, second.get_json()
    assert len(second.get_json()["items"]) == 1
