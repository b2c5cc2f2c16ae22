"""What the OIDC provider gets through idp.hooks: proofing level, verified_claims (checked against
the OIDC4IDA schema), step-up options, and the DSGVO export and deletion."""

import json
from pathlib import Path

import jsonschema
import pytest
from trust_levels.helpers import request_check

from buergerkonto.idp.extensions import db
from buergerkonto.idp.hooks import hooks, proofing_level
from buergerkonto.idp.models import Account
from buergerkonto.trust_levels.models import AuditEntry, IdentityCheck, Verification

SCHEMA = json.loads((Path(__file__).parent / "verified_claims.schema.json").read_text())


def validate(verified_claims):
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate({"verified_claims": verified_claims}, SCHEMA, cls=jsonschema.Draft7Validator)


def _claims(app, email, requested=None):
    with app.app_context(), app.test_request_context():
        account = Account.query.filter_by(email=email).one()
        # Other parts (federation) register providers too; this tests the Bürgerbüro's.
        [provider] = [p for p in hooks().verified_claims if p.__module__.startswith("buergerkonto.trust_levels")]
        return provider(account, None, requested)


def test_full_verified_claims_match_schema_and_record(app, verified):
    [claims] = _claims(app, verified.account["email"])
    validate([claims])
    validate(claims)
    verification = claims["verification"]
    with app.app_context():
        record = Verification.query.one()
        assert verification["verification_process"] == record.public_id
        assert verification["trust_framework"] == app.config["TRUST_FRAMEWORK"] == "de_buergerkonto_pipp"
        [evidence] = verification["evidence"]
        assert evidence["type"] == "document" and evidence["method"] == "pipp"
        assert evidence["verifier"] == {"organization": "Bürgerbüro Leer (Stadt Leer)", "txn": record.public_id}
        assert evidence["document_details"] == {
            "type": "idcard", "issuer": {"country_code": "DEU"},
            "date_of_expiry": record.document_expires_on.isoformat()}
        assert "document_number" not in json.dumps(claims)
    assert claims["claims"] == {
        "given_name": "Erika", "family_name": "Mustermann", "birthdate": "1964-08-12",
        "place_of_birth": {"locality": "Berlin"},
        "address": {"street_address": "Heidestraße 17", "postal_code": "26789", "locality": "Leer", "country": "DE"}}


def test_schema_rejects_malformed_objects(app, verified):
    [claims] = _claims(app, verified.account["email"])
    broken = json.loads(json.dumps(claims))
    del broken["verification"]["trust_framework"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = json.loads(json.dumps(claims))
    broken["claims"] = {}
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_only_requested_claims_are_returned(app, verified):
    requested = {"verification": {"trust_framework": None}, "claims": {"given_name": None, "birthdate": None}}
    [claims] = _claims(app, verified.account["email"], requested)
    validate(claims)
    assert claims["claims"] == {"given_name": "Erika", "birthdate": "1964-08-12"}
    # Only what was asked of the verification element, plus the mandatory trust_framework.
    assert claims["verification"] == {"trust_framework": "de_buergerkonto_pipp"}


def test_requested_verification_members_are_returned(app, verified):
    requested = {"verification": {"trust_framework": None, "time": None, "evidence": None},
                 "claims": {"family_name": {"essential": True}}}
    [claims] = _claims(app, verified.account["email"], requested)
    validate(claims)
    assert set(claims["verification"]) == {"trust_framework", "time", "evidence"}


def test_request_without_named_claims_gets_all(app, verified):
    [claims] = _claims(app, verified.account["email"], {"verification": {"trust_framework": None}})
    assert set(claims["claims"]) == {"given_name", "family_name", "birthdate", "place_of_birth", "address"}


def test_unavailable_claims_or_other_trust_framework_give_nothing(app, verified):
    email = verified.account["email"]
    assert _claims(app, email, {"verification": {"trust_framework": None}, "claims": {"nationalities": None}}) == []
    assert _claims(app, email, {"verification": {"trust_framework": {"value": "de_aml"}},
                                "claims": {"given_name": None}}) == []
    [claims] = _claims(app, email, {"verification": {"trust_framework": {"values": ["de_aml", "de_buergerkonto_pipp"]}},
                                    "claims": {"given_name": None}})
    assert claims["claims"] == {"given_name": "Erika"}


def test_max_age_on_verification_time(app, verified):
    email = verified.account["email"]
    with app.app_context():
        record = Verification.query.one()
        record.created_at = record.created_at.replace(year=record.created_at.year - 2)  # checked two years ago
        record.verified_at = record.created_at
        db.session.commit()
    assert _claims(app, email, {"verification": {"trust_framework": None, "time": {"max_age": 86400}},
                                "claims": {"given_name": None}}) == []


def test_array_of_requests(app, verified):
    requested = [{"verification": {"trust_framework": {"value": "eidas"}}, "claims": {"given_name": None}},
                 {"verification": {"trust_framework": None}, "claims": {"family_name": None}}]
    claims = _claims(app, verified.account["email"], requested)
    validate(claims)
    assert [c["claims"] for c in claims] == [{"family_name": "Mustermann"}]


def test_unverified_account_gets_low_and_no_claims(app, citizen):
    with app.app_context(), app.test_request_context():
        account = Account.query.filter_by(email=citizen.account["email"]).one()
        assert proofing_level(account) == "low"
        assert hooks().verified_claims[0](account, None, None) == []


def test_step_up_options_show_the_buergerbuero_way(app, citizen):
    with app.app_context(), app.test_request_context():
        account = Account.query.filter_by(email=citizen.account["email"]).one()

        class Citizen:  # a WebSession-like record of this citizen
            kind = "citizen"

        record = Citizen()
        record.account = account
        [provider] = [p for p in hooks().step_up_options if p.__module__.startswith("buergerkonto.trust_levels")]
        options = provider(record)["in_person_check"]
        assert options["status"] == "none" and options["code"] is None
        assert options["url"] == "http://localhost/account/identity"
    code = request_check(citizen)
    with app.app_context(), app.test_request_context():
        record.account = Account.query.filter_by(email=citizen.account["email"]).one()
        options = hooks().step_up_options[0](record)["in_person_check"]
        assert options["status"] == "open" and options["code"] == code
        assert options["code_expires_at"].endswith("Z") and "<svg" in options["qr_svg"]
        staff_like = Citizen()
        staff_like.kind, staff_like.account = "staff", None
        assert hooks().step_up_options[0](staff_like) == {}


def test_export_contains_checks_and_verifications(app, verified):
    data = verified.get("/account/export").get_json()
    section = data["identity_verification"]
    assert section["checks"][0]["family_name"] == "Mustermann"
    assert section["verifications"][0]["status"] == "confirmed"
    assert section["verifications"][0]["office"] == "Bürgerbüro Leer"


def test_account_deletion_removes_records_but_keeps_audit_ids(app, verified):
    with app.app_context():
        account_id = Account.query.filter_by(email=verified.account["email"]).one().id
    response = verified.submit("/account/delete", {"current_password": verified.account["password"], "confirm": "y"})
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    with app.app_context():
        assert Verification.query.count() == 0 and IdentityCheck.query.count() == 0
        assert {e.account_id for e in AuditEntry.query.all()} == {account_id}
