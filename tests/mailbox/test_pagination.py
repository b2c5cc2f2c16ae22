"""Listing: keyset pagination that new messages cannot disturb, filters, refused parameters."""

import base64
import json

import pytest
from sqlalchemy import text


def forged_cursor(when: str, ident) -> str:
    """A cursor built like the API's own (base64url of [created_at, id]) around made-up values."""
    return base64.urlsafe_b64encode(json.dumps([when, ident]).encode()).rstrip(b"=").decode()


@pytest.fixture
def postbox(leer, citizen, client, kit):
    token, sub = leer.portal_token(), leer.sub()
    reader = leer.citizen_token()

    class Box:
        def send(self, n, **fields):
            ids = []
            for i in range(n):
                response = leer.send(token, sub, subject=fields.pop("subject", f"Nachricht {i}"), **fields)
                assert response.status_code == 201
                ids.append(response.get_json()["id"])
            return ids

        def list(self, **params):
            response = client.get(f"{kit.API}/messages", query_string=params, headers=kit.bearer(reader))
            return response

        def walk(self, limit, between=None):
            seen, cursor, pages = [], None, 0
            while True:
                params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
                body = self.list(**params).get_json()
                seen += [item["id"] for item in body["items"]]
                pages += 1
                if between:
                    between(pages)
                cursor = body["next_cursor"]
                if not cursor:
                    return seen

    return Box()


def test_pages_stay_stable_while_new_messages_arrive(postbox):
    original = postbox.send(23)
    arrived = []
    seen = postbox.walk(5, between=lambda page: arrived.extend(postbox.send(2)))
    assert len(seen) == len(set(seen)) == 23
    assert seen == list(reversed(original))  # newest first, nothing skipped or repeated
    # The newcomers are on a fresh first page.
    first = [i["id"] for i in postbox.list(limit=len(arrived)).get_json()["items"]]
    assert set(first) == set(arrived)


def test_messages_with_the_same_time_are_ordered_by_id(postbox, app):
    from buergerkonto.idp.extensions import db

    ids = postbox.send(7)
    with app.app_context():
        db.session.execute(text("UPDATE postbox_message SET created_at = (SELECT min(created_at) FROM postbox_message)"))
        db.session.commit()
        db.session.remove()
    assert postbox.walk(2) == list(reversed(ids))


def test_filters_unread_reference_and_kind(postbox, client, kit, leer):
    notices = postbox.send(3, reference="AZ-9")
    statuses = postbox.send(2, kind="status", status="RECEIVED", reference="AZ-9")
    other = postbox.send(1, reference="AZ-10")
    token = leer.citizen_token()
    client.get(f"{kit.API}/messages/{notices[0]}", headers=kit.bearer(token))  # read one
    ids = lambda **p: [i["id"] for i in postbox.list(**p).get_json()["items"]]  # noqa: E731
    assert set(ids(reference="AZ-9")) == set(notices + statuses)
    assert set(ids(kind="status")) == set(statuses)
    assert set(ids(unread="true")) == set(notices[1:] + statuses + other)
    assert ids(unread="false") == [notices[0]]
    assert set(ids(reference="AZ-9", kind="notice", unread="true")) == set(notices[1:])


@pytest.mark.parametrize("params,parameter", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "zehn"}, "limit"),
    ({"unread": "yes"}, "unread"), ({"kind": "letter"}, "kind"), ({"reference": "x" * 101}, "reference"),
    ({"cursor": "not-a-cursor"}, "cursor"), ({"cursor": "WyIyMDI2IiwgIngiXQ"}, "cursor"),
])
def test_bad_list_parameters_are_400(postbox, params, parameter):
    response = postbox.list(**params)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["parameter"] == parameter


@pytest.mark.parametrize("cursor", [
    forged_cursor("2026-01-01T00:00:00", 2**70), forged_cursor("2026-01-01T00:00:00", 2**63),
    forged_cursor("2026-01-01T00:00:00", 0), forged_cursor("2026-01-01T00:00:00", -1),
    forged_cursor("2026-01-01T00:00:00+02:00", 5),
])
def test_cursor_outside_the_id_range_or_with_a_time_zone_is_400(postbox, cursor):
    response = postbox.list(cursor=cursor)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == [{"parameter": "cursor", "detail": "Not a cursor of this API."}]


def test_cursor_at_the_ends_of_the_id_range_is_accepted(postbox):
    [message_id] = postbox.send(1)
    newest = forged_cursor("9999-12-31T23:59:59.999999", 2**63 - 1)  # the id column is 64-bit
    assert [i["id"] for i in postbox.list(cursor=newest).get_json()["items"]] == [message_id]
    oldest = forged_cursor("0001-01-01T00:00:00", 1)
    assert postbox.list(cursor=oldest).get_json()["items"] == []


def test_list_query_uses_the_listing_index(app, postbox, backend):
    """The list query walks (account_id, created_at, id), so its cost does not grow with the table."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.mailbox import service

    postbox.send(3)
    with app.app_context():
        query = service.page_query(1, cursor=None)
        compiled = str(query.statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if backend == "sqlite":
            plan = " ".join(str(r) for r in db.session.execute(text("EXPLAIN QUERY PLAN " + compiled)))
        else:
            db.session.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(r) for r in db.session.execute(text("EXPLAIN " + compiled)))
        db.session.remove()
    assert "ix_postbox_message_listing" in plan, plan
