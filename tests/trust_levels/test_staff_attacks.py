"""The Bürgerbüro seen by an attacker: the audit chain and its export, held decisions, opened checks.

Each test states the secure behaviour; each failed before its fix (a review found them).
"""

import csv
import hashlib
import hmac
import io
import json
from datetime import date, datetime, timedelta

from sqlalchemy import text
from trust_levels.helpers import confirm_check, confirm_one_document_for, look_up, request_check

from buergerkonto.idp import crypto
from buergerkonto.idp.extensions import db
from buergerkonto.idp.hooks import hooks, proofing_level
from buergerkonto.idp.models import Account
from buergerkonto.trust_levels import audit
from buergerkonto.trust_levels.models import AuditEntry, Verification
from support.plugin import sign_in


def _activity(citizen, office, make_staff):
    code = request_check(citizen)
    staff = make_staff(office["id"])
    look_up(staff, "ZZZZ-ZZZZ")
    assert confirm_check(staff, code).status_code == 200
    return staff


# --- audit chain ---------------------------------------------------------------------------------


def test_a_forged_entry_outside_the_chain_is_found_by_verify(app, runner, citizen, office, make_staff):
    """Someone with database access adds an entry at seq 0 (or below): it shows on the office's
    audit page and in its CSV export as a staff action, so ``audit verify`` must not call the log intact."""
    staff = _activity(citizen, office, make_staff)
    with app.app_context():
        first = AuditEntry.query.filter_by(seq=1).one()
        db.session.execute(text(
            "INSERT INTO trust_audit (seq, created_at, office_id, staff_id, action, account_id, object_ref, "
            "details, prev_hash, entry_hash) VALUES (0, :created, :office, :staff, 'view', 4242, "
            "'verification:framed', NULL, :prev, :hash)"),
            {"created": first.created_at, "office": office["id"], "staff": staff.staff["id"],
             "prev": audit.GENESIS, "hash": "f" * 64})
        db.session.commit()
    # The forged row is shown to the office as a real staff action ...
    page = staff.get("/staff/audit").get_data(as_text=True)
    assert "verification:framed" in page
    # ... and verify must notice it.
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output


def test_the_csv_export_can_be_checked_against_its_own_hashes(app, citizen, office, make_staff):
    """audit.office_csv: "hashes included, so an export can be checked later". With the key, each row's
    entry_hash must be recomputable from the row; created_at is cut to seconds, so none is."""
    _activity(citizen, office, make_staff)
    admin = make_staff(office["id"], role="office-admin")
    response = admin.submit("/staff/audit", {}, selector="form[action='/staff/audit.csv']")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows
    with app.app_context():
        key = crypto.derive_key("trust-audit-chain")
    with app.app_context():
        stored = {str(e.seq): e.created_at for e in AuditEntry.query.all()}
    mismatched, with_stored_time = [], []
    for row in rows:
        created = datetime.fromisoformat(row["created_at"].rstrip("Z"))
        body = {
            "seq": int(row["seq"]),
            "created_at": created.isoformat(timespec="microseconds"),
            "office_id": int(row["office_id"]),
            "staff_id": int(row["staff_id"]),
            "action": row["action"],
            "account_id": int(row["account_id"]) if row["account_id"] else None,
            "object_ref": row["object_ref"] or None,
            "details": json.loads(row["details"]),
            "prev_hash": row["prev_hash"],
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if hmac.new(key, canonical, hashlib.sha256).hexdigest() != row["entry_hash"]:
            mismatched.append(row["seq"])
        # Sanity: with the database's own created_at (microseconds kept) the same row does match.
        body["created_at"] = stored[row["seq"]].isoformat(timespec="microseconds")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if hmac.new(key, canonical, hashlib.sha256).hexdigest() == row["entry_hash"]:
            with_stored_time.append(row["seq"])
    assert with_stored_time == [r["seq"] for r in rows]  # the reconstruction itself is right
    assert mismatched == [], f"rows whose hash cannot be checked from the export: {mismatched}"


# --- held decisions ------------------------------------------------------------------------------


def _level(app, email):
    with app.app_context(), app.test_request_context():
        account = Account.query.filter_by(email=email).one()
        return proofing_level(account)


def test_approving_a_held_case_with_an_expired_document_is_refused(app, office, make_staff, make_account,
                                                                   new_browser):
    """An expired document cannot confirm an identity (confirm refuses it); a held case decided after
    the document expired must be refused too, and must not supersede the account's live confirmation."""
    clerk = make_staff(office["id"])
    first, second = make_account(), make_account()
    browsers = {}
    for account in (first, second):
        browser = new_browser()
        sign_in(browser, account["email"], account["password"])
        browsers[account["email"]] = browser
        assert confirm_check(clerk, request_check(browser), number="T22000129").status_code == 200
    with app.app_context():
        held = Verification.query.filter_by(status="held").one()
        public_id = held.public_id
    # Meanwhile the second citizen shows a new passport and is confirmed with it.
    code = request_check(browsers[second["email"]])
    assert confirm_check(clerk, code, number="C01X00T47", doc_type="passport").status_code == 200
    assert _level(app, second["email"]) == "substantial"
    with app.app_context():
        held = Verification.query.filter_by(public_id=public_id).one()
        held.document_expires_on = date.today() - timedelta(days=1)
        db.session.commit()

    admin = make_staff(office["id"], role="office-admin")
    response = admin.submit(f"/staff/verifications/{public_id}", {"decision": "approve"},
                            selector="form[action$='/decide']")
    with app.app_context():
        statuses = {v.public_id == public_id: v.status for v in Verification.query.filter_by(
            account_id=Account.query.filter_by(email=second["email"]).one().id)}
    level = _level(app, second["email"])
    assert response.status_code == 400 and statuses[True] == "held", (response.status_code, statuses)
    assert statuses[False] == "confirmed" and level == "substantial", (statuses, level)


# --- opened checks -------------------------------------------------------------------------------


def test_a_late_approval_does_not_make_the_document_check_look_fresh(app, office, make_staff, make_account,
                                                                     new_browser):
    """The document was seen at the counter when the check was recorded; evidence ``time`` (and
    ``max_age``) must refer to then, not to the day an admin cleared the hold weeks later."""
    clerk = make_staff(office["id"])
    first, second = make_account(), make_account()
    confirm_one_document_for(clerk, new_browser, (first, second), "T22000129")
    with app.app_context():
        held = Verification.query.filter_by(status="held").one()
        public_id = held.public_id
        held.created_at = held.created_at - timedelta(days=60)  # seen at the counter 60 days ago
        db.session.commit()
    admin = make_staff(office["id"], role="office-admin")
    assert admin.submit(f"/staff/verifications/{public_id}", {"decision": "approve"},
                        selector="form[action$='/decide']").status_code == 302
    with app.app_context(), app.test_request_context():
        account = Account.query.filter_by(email=second["email"]).one()
        wanted = {"verification": {"time": {"max_age": 30 * 86400}, "evidence": None},
                  "claims": {"given_name": None}}
        released = hooks().verified_claims[0](account, None, wanted)
    assert released == [], f"a 60-day-old document check released under max_age=30d: {released}"


def test_a_withdrawn_code_no_longer_opens_the_citizens_data(app, citizen, office, make_staff):
    """The clerk looked the code up; the citizen then withdrew it. The check page must not keep showing
    the citizen's data to that browser for the rest of the staff session."""
    code = request_check(citizen)
    staff = make_staff(office["id"])
    check_url = look_up(staff, code).headers["Location"]
    assert staff.get(check_url).status_code == 200
    response = citizen.submit("/account/identity/cancel", {}, selector="form[action$='/cancel']")
    assert response.status_code == 302
    page = staff.get(check_url)
    assert "Mustermann" not in page.get_data(as_text=True), page.status_code


# --- pages opened from another site ---------------------------------------------------------------


def test_a_link_on_another_site_does_not_make_a_clerk_open_a_record(app, citizen, office, make_staff):
    """Opening a record or a looked-up check writes a ``view`` to the audit log. A link in a webmail or on
    a portal, followed by a signed-in clerk's browser (its cookie is SameSite=Lax, so it goes along), must
    not write one: the page asks for a click here first."""
    code = request_check(citizen)
    clerk = make_staff(office["id"])
    check_url = look_up(clerk, code).headers["Location"]
    with app.app_context():
        views = AuditEntry.query.filter_by(action="view").count()
    page = clerk.get(check_url, headers={"Sec-Fetch-Site": "cross-site"})
    assert page.status_code == 200 and "Mustermann" not in page.get_data(as_text=True)
    with app.app_context():
        assert AuditEntry.query.filter_by(action="view").count() == views
    assert confirm_check(clerk, code).status_code == 200
    with app.app_context():
        url = f"/staff/verifications/{Verification.query.one().public_id}"
        views = AuditEntry.query.filter_by(action="view").count()
    for site in ("cross-site", "same-site"):
        page = clerk.get(url, headers={"Sec-Fetch-Site": site})
        assert page.status_code == 200 and "Mustermann" not in page.get_data(as_text=True)
        assert clerk.soup(page).select_one(f"main a[href='{url}']") is not None
    with app.app_context():
        assert AuditEntry.query.filter_by(action="view").count() == views
    # The link on that page (same-origin), a bookmark or a typed address (none), and older browsers
    # without the header open the record, and the view is written.
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
        assert "Mustermann" in clerk.get(url, headers=headers).get_data(as_text=True)
    with app.app_context():
        assert AuditEntry.query.filter_by(action="view").count() == views + 3
