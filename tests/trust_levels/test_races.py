"""Bürgerbüro decisions made at the same moment by two members of staff, through the pages.

Each round prepares the forms first (look-up, GET, CSRF token), then releases the POSTs together
with a barrier, each from its own browser (own test client, own cookies) on PostgreSQL. A round
that goes wrong is counted; before the fixes most rounds of each test did.
"""

from collections import Counter

import pytest

from support.browser import Browser
from support.races import race
from support.plugin import sign_in
from trust_levels.helpers import FORM, document, look_up, request_check

from buergerkonto.trust_levels import audit, service
from buergerkonto.trust_levels.models import AuditEntry, Verification

ROUNDS = 8


@pytest.fixture(autouse=True)
def _postgres_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("races are shown on PostgreSQL")


def _prepared_confirm(staff: Browser, code: str, **fields):
    """Look the code up and open the check; return a callable that posts the confirmation."""
    response = look_up(staff, code)
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    check_url = response.headers["Location"]
    page = staff.get(check_url)
    assert page.status_code == 200
    form = Browser.soup(page).select_one(FORM)
    data = {el["name"]: el.get("value", "") for el in form.select("input[name]")
            if el.get("type") not in ("checkbox", "radio") or el.has_attr("checked")}
    data.update(document(**fields))
    action = form.get("action") or check_url
    return lambda: staff.post(action, data=data)


def _citizen_code(new_browser, make_account):
    account = make_account()
    browser = new_browser()
    assert sign_in(browser, account["email"], account["password"]).status_code == 302
    return account, request_check(browser)


def test_one_document_confirmed_on_two_accounts_at_once_holds_the_second(app, office, make_staff, make_account,
                                                                     new_browser):
    """The same ID card shown for two accounts at two counters at the same moment: the rule
    'a document already on another account is held for an office admin' (four-eyes) must hold."""
    clerk_a, clerk_b = make_staff(office["id"]), make_staff(office["id"])
    both_confirmed = []
    for n in range(ROUNDS):
        number = f"T{n:02d}R00129"
        (_, code_1), (_, code_2) = (_citizen_code(new_browser, make_account) for _ in range(2))
        post_a = _prepared_confirm(clerk_a, code_1, number=number)
        post_b = _prepared_confirm(clerk_b, code_2, number=number)
        a, b = race(post_a, post_b)
        assert a.status_code == 200 and b.status_code == 200
        with app.app_context():
            doc_hash = service.document_hash("DEU", number)
            statuses = sorted(v.status for v in Verification.query.filter_by(document_hash=doc_hash))
        if statuses == ["confirmed", "confirmed"]:
            both_confirmed.append(n)
    with app.app_context():
        assert audit.verify()[1] is None  # the chain itself survives the parallel appends
    assert not both_confirmed, (
        f"in {len(both_confirmed)} of {ROUNDS} rounds one document was confirmed on two accounts, "
        "nothing held for the office admin")


def _held_verification(app, clerk_a, clerk_b, new_browser, make_account, number):
    """Two accounts show the same document one after the other: the second is held."""
    for clerk in (clerk_a, clerk_b):
        _, code = _citizen_code(new_browser, make_account)
        assert _prepared_confirm(clerk, code, number=number)().status_code == 200
    with app.app_context():
        return Verification.query.filter_by(status="held", document_hash=service.document_hash("DEU", number)
                                            ).one().public_id


def _prepared_decision(admin: Browser, public_id: str, decision: str):
    page = admin.get(f"/staff/verifications/{public_id}")
    assert page.status_code == 200
    form = Browser.soup(page).select_one("form[action$='/decide']")
    token = form.select_one("input[name=csrf_token]")["value"]
    return lambda: admin.post(form["action"], data={"csrf_token": token, "decision": decision})


def test_a_held_verification_decided_by_two_admins_at_once_gets_one_decision(app, office, make_staff,
                                                                               make_account, new_browser):
    """Two office admins decide the same held case at the same moment, one approves, one rejects:
    only one decision may be recorded (the other told it was decided already)."""
    clerk_a, clerk_b = make_staff(office["id"]), make_staff(office["id"])
    admin_1 = make_staff(office["id"], role="office-admin")
    admin_2 = make_staff(office["id"], role="office-admin")
    double = []
    for n in range(ROUNDS):
        public_id = _held_verification(app, clerk_a, clerk_b, new_browser, make_account, f"H{n:02d}R00129")
        approve = _prepared_decision(admin_1, public_id, "approve")
        reject = _prepared_decision(admin_2, public_id, "reject")
        a, r = race(approve, reject)
        with app.app_context():
            record = Verification.query.filter_by(public_id=public_id).one()
            ref = f"verification:{public_id}"
            actions = sorted(e.action for e in AuditEntry.query.filter(
                AuditEntry.object_ref == ref, AuditEntry.action.in_(("approve", "reject"))))
            if a.status_code == 302 and r.status_code == 302:
                double.append((n, actions, record.status, record.approved_by_id is not None))
    assert not double, (
        f"{len(double)} of {ROUNDS} held cases were both approved and rejected (both admins told "
        f"'The decision was recorded'); (round, audit actions, final status, approved_by set): {double[:5]}")


def test_a_confirmation_revoked_by_two_admins_at_once_is_revoked_once(app, office, make_staff, make_account,
                                                                       new_browser, smtp):
    """Two office admins revoke the same confirmation at once: one revocation, one mail."""
    clerk = make_staff(office["id"])
    admin_1 = make_staff(office["id"], role="office-admin")
    admin_2 = make_staff(office["id"], role="office-admin")
    doubled = []
    for n in range(ROUNDS):
        account, code = _citizen_code(new_browser, make_account)
        assert _prepared_confirm(clerk, code, number=f"V{n:02d}R00129")().status_code == 200
        with app.app_context():
            public_id = Verification.query.filter_by(
                document_hash=service.document_hash("DEU", f"V{n:02d}R00129")).one().public_id
        posts = []
        for admin in (admin_1, admin_2):
            page = admin.get(f"/staff/verifications/{public_id}")
            form = Browser.soup(page).select_one("form[action$='/revoke']")
            token = form.select_one("input[name=csrf_token]")["value"]
            posts.append(lambda admin=admin, form=form, token=token: admin.post(
                form["action"], data={"csrf_token": token, "reason": "Dokument war gefälscht, Polizei informiert"}))
        results = race(*posts)
        with app.app_context():
            revokes = AuditEntry.query.filter_by(object_ref=f"verification:{public_id}", action="revoke").count()
        if revokes > 1:
            doubled.append((n, [r.status_code for r in results], revokes, account["email"]))
    smtp.settle()
    mails = Counter(m["X-Envelope-To"] for m in smtp.messages if "withdrawn" in str(m["Subject"]).lower()
                    or "widerrufen" in str(m["Subject"]).lower() or "zurückgenommen" in str(m["Subject"]).lower())
    assert not doubled, (f"{len(doubled)} of {ROUNDS} confirmations were revoked twice (two audit entries); "
                         f"e.g. {doubled[:3]}; withdrawal mails per address: {sorted(set(mails.values()))}")


def test_one_check_code_confirmed_by_two_clerks_at_once_gives_one_verification(app, office, make_staff,
                                                                               make_account, new_browser):
    clerk_a, clerk_b = make_staff(office["id"]), make_staff(office["id"])
    problems = []
    for n in range(ROUNDS):
        account, code = _citizen_code(new_browser, make_account)
        post_a = _prepared_confirm(clerk_a, code, number=f"S{n:02d}R00129")
        post_b = _prepared_confirm(clerk_b, code, number=f"S{n:02d}R00129")
        results = race(post_a, post_b)
        with app.app_context():
            count = Verification.query.filter_by(
                document_hash=service.document_hash("DEU", f"S{n:02d}R00129")).count()
        if count != 1 or sorted(r.status_code for r in results) != [200, 409]:
            problems.append((n, [r.status_code for r in results], count))
    with app.app_context():
        assert audit.verify()[1] is None
        seqs = [e.seq for e in AuditEntry.query.order_by(AuditEntry.seq)]
        assert seqs == list(range(1, len(seqs) + 1))
    assert not problems, problems
