"""The staff audit log: every action chained by hash, breaks named, office-only views, CSV export."""

import csv
import io
import json

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
    response = admin.submit("/staff/audit", {}, selector="form[action='/staff/audit.csv']")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["action"] for r in rows] == ["search", "search", "view", "correct", "confirm", "export"]
    assert {r["office_id"] for r in rows} == {str(leer["id"])}
    for personal in ("Erika", "Mustermann", "Berlin", "Heidestraße", citizen.account["email"], "L01X00T47"):
        assert personal not in body
    with app.app_context():
        assert AuditEntry.query.filter_by(action="export").count() == 1


def _head(runner):
    result = runner.invoke(args=["audit", "head"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _verify(runner, head):
    return runner.invoke(args=["audit", "verify", "--head", head])


def test_deleting_the_newest_entries_is_found_against_a_recorded_head(app, runner, citizen, office, make_staff):
    """A shorter chain is still whole: only the head kept outside the database shows what was cut."""
    _activity(citizen, office, make_staff)
    recorded = _head(runner)
    assert recorded.startswith("5:")
    with app.app_context():
        db.session.execute(text("DELETE FROM trust_audit WHERE seq = 5"))  # the confirmation
        db.session.commit()
    result = _verify(runner, recorded)
    assert result.exit_code == 1
    assert "broken at sequence 5: the chain ends at sequence 4, before the recorded head" in result.output


def test_a_cut_tail_stays_found_after_new_entries(app, runner, citizen, office, make_staff):
    """New entries after the cut fill the recorded head's place with another entry: its hash differs."""
    staff = _activity(citizen, office, make_staff)
    recorded = _head(runner)
    with app.app_context():
        db.session.execute(text("DELETE FROM trust_audit WHERE seq = 5"))
        db.session.commit()
    look_up(staff, "ZZZZ-ZZZZ")
    look_up(staff, "YYYY-YYYY")
    result = _verify(runner, recorded)
    assert result.exit_code == 1
    assert "broken at sequence 5: the entry does not match the recorded head" in result.output


def test_a_recorded_head_holds_while_the_chain_grows(app, runner, citizen, office, make_staff):
    empty = _head(runner)
    assert empty == "0:" + audit.GENESIS
    staff = _activity(citizen, office, make_staff)
    recorded = runner.invoke(args=["audit", "head", "--json"])
    head = json.loads(recorded.output)
    assert head["head"] == f"{head['seq']}:{head['hash']}" and head["seq"] == 5
    look_up(staff, "ZZZZ-ZZZZ")
    for earlier in (empty, head["head"]):
        result = _verify(runner, earlier)
        assert result.exit_code == 0 and "intact: 6 entries" in result.output, result.output


def test_a_malformed_head_is_refused(runner):
    for bad in ("5", "five:" + "a" * 64, "5:" + "g" * 64, "5:abc"):
        result = _verify(runner, bad)
        assert result.exit_code == 2 and "SEQ:HASH" in result.output


def test_csv_export_names_the_chain_head(app, runner, citizen, office, make_staff):
    _activity(citizen, office, make_staff)
    before = _head(runner)
    admin = make_staff(office["id"], role="office-admin")
    exported = admin.submit("/staff/audit", {}, selector="form[action='/staff/audit.csv']")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    export = rows[-1]
    assert export["action"] == "export"
    assert json.loads(export["details"]) == {"chain_head": before}
    assert _verify(runner, before).exit_code == 0
    assert _verify(runner, f"{export['seq']}:{export['entry_hash']}").exit_code == 0
