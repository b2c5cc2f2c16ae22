"""The staff audit log: every action chained by hash, breaks named, office-only views, CSV export."""

import csv
import io

from sqlalchemy import text
from trust_levels.helpers import confirm_check, look_up, request_check

from buergerkonto.idp.extensions import db
from buergerkonto.trust_levels import audit
from buergerkonto.trust_levels.models import AuditEntry


def _activity(citizen, office, make_staff):
    code = request_check(citizen)
    staff = make_staff(office["id"])
    look_up(staff, "ZZZZ-ZZZZ")
    assert confirm_check(staff, code, given_name="Erika Maria").status_code == 200
    return staff


def test_chain_links_every_entry_to_the_previous_one(app, runner, citizen, office, make_staff):
    _activity(citizen, office, make_staff)
    with app.app_context():
        entries = AuditEntry.query.order_by(AuditEntry.seq).all()
        assert [e.action for e in entries] == ["search", "search", "view", "correct", "confirm"]
        assert entries[0].prev_hash == audit.GENESIS
        for before, after in zip(entries, entries[1:]):
            assert after.prev_hash == before.entry_hash
            assert after.seq == before.seq + 1
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact: 5 entries" in result.output


def test_edited_entry_is_named(app, runner, citizen, office, make_staff):
    _activity(citizen, office, make_staff)
    with app.app_context():
        target = AuditEntry.query.filter_by(seq=3).one()
        target_id = target.id
        # Someone with database access changes whose record was viewed.
        db.session.execute(text("UPDATE trust_audit SET account_id = account_id + 1 WHERE id = :id"),
                           {"id": target_id})
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"broken at entry {target_id} (sequence 3)" in result.output
    assert "content does not match" in result.output


def test_rehashed_edit_still_breaks_the_next_link(app, runner, citizen, office, make_staff):
    """Recomputing the edited entry's own hash (without the key) cannot hide the change."""
    import hashlib

    _activity(citizen, office, make_staff)
    with app.app_context():
        target = AuditEntry.query.filter_by(seq=2).one()
        fake = hashlib.sha256(b"forged").hexdigest()
        db.session.execute(text("UPDATE trust_audit SET entry_hash = :h WHERE id = :id"),
                           {"h": fake, "id": target.id})
        db.session.commit()
        checked, broken = audit.verify()
        assert checked == 1 and broken.seq == 2


def test_deleted_entry_is_detected(app, runner, citizen, office, make_staff):
    _activity(citizen, office, make_staff)
    with app.app_context():
        db.session.execute(text("DELETE FROM trust_audit WHERE seq = 2"))
        db.session.commit()
        following = AuditEntry.query.filter_by(seq=3).one().id
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"entry {following} (sequence 3)" in result.output


def test_staff_see_only_their_office_entries(app, citizen, make_office, make_staff):
    leer = make_office()
    other = make_office(name="Bürgerbüro Moormerland", ags="03457012", municipality="Moormerland")
    _activity(citizen, leer, make_staff)
    foreign = make_staff(other["id"])
    look_up(foreign, "YYYY-YYYY")
    page = foreign.get("/staff/audit").get_data(as_text=True)
    assert page.count("<tr><td>") == 1  # their own search only
    home = make_staff(leer["id"])
    page = home.get("/staff/audit").get_data(as_text=True)
    assert page.count("<tr><td>") == 5


def test_office_admin_exports_csv_without_personal_data(app, citizen, make_office, make_staff):
    leer = make_office()
    other = make_office(name="Bürgerbüro Moormerland", ags="03457012", municipality="Moormerland")
    _activity(citizen, leer, make_staff)
    look_up(make_staff(other["id"]), "YYYY-YYYY")
    admin = make_staff(leer["id"], role="office-admin")
    response = admin.get("/staff/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["action"] for r in rows] == ["search", "search", "view", "correct", "confirm", "export"]
    assert {r["office_id"] for r in rows} == {str(leer["id"])}
    for personal in ("Erika", "Mustermann", "Berlin", "Heidestraße", citizen.account["email"], "L01X00T47"):
        assert personal not in body
    with app.app_context():
        assert AuditEntry.query.filter_by(action="export").count() == 1
