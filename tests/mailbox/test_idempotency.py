"""Idempotent sends: a retry returns the first result; parallel retries store one message."""

import threading

import pytest


def _count(app, **filters) -> int:
    from buergerkonto.idp.extensions import db
    from buergerkonto.mailbox.models import Message

    with app.app_context():
        count = Message.query.filter_by(**filters).count()
        db.session.remove()
        return count


def test_retry_with_the_same_key_returns_the_first_result(leer, citizen, app, smtp):
    token, sub = leer.portal_token(), leer.sub()
    first = leer.send(token, sub, key="bescheid-4711")
    again = leer.send(token, sub, key="bescheid-4711")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _count(app, idempotency_key="bescheid-4711") == 1
    smtp.wait_for(citizen["email"])
    smtp.settle()
    assert len(smtp.to(citizen["email"])) == 1


def test_same_key_with_another_body_is_409(leer, citizen, app):
    token, sub = leer.portal_token(), leer.sub()
    assert leer.send(token, sub, key="k-1", subject="A").status_code == 201
    response = leer.send(token, sub, key="k-1", subject="B")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert _count(app, idempotency_key="k-1") == 1


def test_keys_belong_to_their_sender(leer, landkreis, citizen, app):
    a = leer.send(leer.portal_token(), leer.sub(), key="shared")
    b = landkreis.send(landkreis.portal_token(), landkreis.sub(), key="shared")
    assert a.status_code == b.status_code == 201 and a.get_json()["id"] != b.get_json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "mit leerzeichen", "ümlaut"])
def test_malformed_idempotency_keys_are_400(leer, citizen, key):
    response = leer.http.post(
        "/api/postbox/v1/messages", json={"recipient": "x", "subject": "s"},
        headers={"Authorization": f"Bearer {leer.portal_token()}", "Idempotency-Key": key})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["parameter"] == "Idempotency-Key"


def test_parallel_sends_with_one_key_store_exactly_one_message(leer, citizen, app, backend):
    if backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises the database)")
    token, sub = leer.portal_token(), leer.sub()
    threads, results = 8, []
    barrier = threading.Barrier(threads)
    lock = threading.Lock()

    def send():
        http = app.test_client()  # each request runs in its own app context and session
        barrier.wait()
        response = http.post("/api/postbox/v1/messages", json={"recipient": sub, "subject": "Parallel"},
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race"})
        with lock:
            results.append((response.status_code, response.get_json()))

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [status for status, _body in results] == [201] * threads, results
    assert len({body["id"] for _status, body in results}) == 1
    assert _count(app, idempotency_key="race") == 1
