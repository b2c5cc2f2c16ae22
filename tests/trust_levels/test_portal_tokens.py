"""What portals get from a Bürgerbüro verification, through the real code flow.

The citizen is confirmed at the counter; a portal then asks for `substantial`
with an essential `acr` and for `verified_claims` through the `claims`
parameter. Password alone stays `low` (the portal is sent back with
`unmet_authentication_requirements`); with the second factor the ID token
asserts `substantial` and carries the verified attributes, valid against the
OIDC4IDA schema, in the ID token and at userinfo. Discovery advertises it.
"""

import json
from pathlib import Path

import jsonschema
import pyotp
import pytest

from buergerkonto.idp.extensions import db
from buergerkonto.idp.oidc import clients
from support.browser import Browser
from support.relying_party import REDIRECT, RelyingParty
from support.statements import recorded_statements
from trust_levels.helpers import PERSON

SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
SCHEMA = json.loads((Path(__file__).parent / "verified_claims.schema.json").read_text())
VERIFIED_REQUEST = {"verification": {"trust_framework": None, "evidence": None},
                    "claims": {"given_name": None, "family_name": None, "birthdate": None}}
CLAIMS = json.dumps({
    "id_token": {"acr": {"essential": True, "values": [SUBSTANTIAL]}, "verified_claims": VERIFIED_REQUEST},
    "userinfo": {"verified_claims": VERIFIED_REQUEST},
})


@pytest.fixture
def portal(app, client, citizen, browser):
    with app.app_context():
        registration, secret = clients.create_client("Stadt Leer", [REDIRECT])
        db.session.commit()
        return RelyingParty(client, browser, {"client_id": registration.client_id, "client_secret": secret,
                                              "redirect_uri": REDIRECT})


def enable_totp(browser: Browser) -> None:
    page = browser.get("/account/totp")
    secret = Browser.soup(page).select_one(".secret").get_text(strip=True)
    response = browser.submit_page(page, {"code": pyotp.TOTP(secret).now()}, url="/account/totp")
    assert response.status_code == 200 and "codes" in response.get_data(as_text=True)


def test_password_alone_stays_low_and_the_portal_hears_so(verified, portal):
    page = portal.authorize("openid profile", claims=CLAIMS, acr_values=SUBSTANTIAL)
    assert page.status_code == 200  # the step-up page, offering the way back
    result = portal.callback(portal.decide(page, "return"))
    assert result["error"] == "unmet_authentication_requirements"
    assert "code" not in result


def test_password_alone_asserts_low_without_asking_for_the_proofing_level(app, verified, portal):
    # A check at the counter cannot lift a password-only sign-in above low, so issuing the code
    # does not read the verifications or the linked upstream identities at all.
    with recorded_statements(app) as recorded:
        id_token = portal.id_token(portal.tokens("openid profile")["id_token"])
    statements = [statement.sql for statement in recorded]
    assert id_token["acr"] == "http://eidas.europa.eu/LoA/low"
    assert statements and not [s for s in statements if "trust_verification" in s or "federation_identity" in s]


def test_second_factor_gives_substantial_with_verified_claims(verified, portal, browser):
    enable_totp(browser)
    tokens = portal.tokens("openid profile", claims=CLAIMS, acr_values=SUBSTANTIAL)
    id_token = portal.id_token(tokens["id_token"])
    assert id_token["acr"] == SUBSTANTIAL
    assert "mfa" in id_token["amr"]

    [checked] = [v for v in _as_list(id_token["verified_claims"])
                 if v["verification"]["evidence"][0]["type"] == "document"]
    jsonschema.validate({"verified_claims": checked}, SCHEMA, cls=jsonschema.Draft7Validator)
    assert checked["claims"] == {"given_name": PERSON["given_name"], "family_name": PERSON["family_name"],
                                 "birthdate": PERSON["birthdate"]}
    evidence = checked["verification"]["evidence"][0]
    assert evidence["method"] == "pipp" and evidence["document_details"]["type"] == "idcard"

    userinfo = portal.userinfo(tokens["access_token"]).get_json()
    assert userinfo["sub"] == id_token["sub"]
    assert _as_list(userinfo["verified_claims"])[0]["claims"]["family_name"] == PERSON["family_name"]


def test_no_verified_claims_unless_asked(verified, portal, browser):
    enable_totp(browser)
    id_token = portal.id_token(portal.tokens("openid profile")["id_token"])
    assert "verified_claims" not in id_token


def test_discovery_advertises_the_identity_assurance_it_can_give(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["verified_claims_supported"] is True
    assert "de_buergerkonto_pipp" in metadata["trust_frameworks_supported"]
    assert "document" in metadata["evidence_supported"]
    assert set(metadata["documents_supported"]) == {"idcard", "passport", "residence_permit"}
    assert {"given_name", "family_name", "birthdate", "place_of_birth", "address"} <= set(
        metadata["claims_in_verified_claims_supported"])


def _as_list(value):
    return value if isinstance(value, list) else [value]
