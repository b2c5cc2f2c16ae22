"""The upstream's level reaches the portal: an eID sign-in at the Land's service account gives a
portal's ID token `acr` high (and the upstream's vouched attributes when asked), a password
sign-in of the same account stays low."""

import json

import pytest

from buergerkonto.idp.extensions import db
from buergerkonto.idp.oidc import clients
from support.relying_party import REDIRECT, RelyingParty

HIGH = "http://eidas.europa.eu/LoA/high"
LOW = "http://eidas.europa.eu/LoA/low"


@pytest.fixture
def portal(app, client, browser):
    with app.app_context():
        registration, secret = clients.create_client("Landkreis Leer", [REDIRECT])
        db.session.commit()
        return RelyingParty(client, browser, {"client_id": registration.client_id, "client_secret": secret,
                                              "redirect_uri": REDIRECT})


def test_eid_sign_in_gives_the_portal_level_high(browser, federated, portal):
    federated("erika")
    created = browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    assert created.status_code == 302
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": [HIGH]},
                                      "verified_claims": {"verification": {"trust_framework": None},
                                                          "claims": {"family_name": None}}}})
    tokens = portal.tokens("openid profile", claims=claims, acr_values=HIGH)
    id_token = portal.id_token(tokens["id_token"])
    assert id_token["acr"] == HIGH
    assert id_token["amr"][0] == "fed"
    verified = id_token["verified_claims"]
    verified = verified if isinstance(verified, list) else [verified]
    assert any(v["verification"]["evidence"][0]["type"] == "vouch" and "family_name" in v["claims"]
               for v in verified)


def test_low_upstream_level_cannot_satisfy_an_essential_high(browser, federated, portal):
    federated("lena")  # a test citizen the upstream asserts at eIDAS low
    assert browser.submit("/federation/new", {}, selector="form[action='/federation/new']").status_code == 302
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": [HIGH]}}})
    page = portal.authorize("openid", claims=claims)
    assert page.status_code == 200  # the step-up page; no code is issued
    result = portal.callback(portal.decide(page, "return"))
    assert result["error"] == "unmet_authentication_requirements"
