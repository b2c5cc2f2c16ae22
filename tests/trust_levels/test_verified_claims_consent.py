"""Verified identity data (OIDC4IDA ``verified_claims``) goes to a portal outside the network
only with the citizen's consent.

A portal asks for it through the ``claims`` parameter, with no scope beyond ``openid``: that
request is a consent item of its own, named in words on the consent page and on the account
page, and checked again whenever the data is released (ID token, userinfo). Member portals
are the network's own and keep receiving it without a consent page.
"""

import json

import pytest

from buergerkonto.idp.extensions import db
from buergerkonto.idp.oidc import clients
from buergerkonto.idp.oidc.models import Consent
from support.browser import Browser
from support.relying_party import REDIRECT, RelyingParty
from trust_levels.helpers import PERSON

VERIFIED_REQUEST = {"verification": {"trust_framework": None},
                    "claims": {"given_name": None, "family_name": None, "birthdate": None}}
CLAIMS = json.dumps({"id_token": {"verified_claims": VERIFIED_REQUEST},
                     "userinfo": {"verified_claims": VERIFIED_REQUEST}})
CONSENT_WORDS = "confirmed by the check of your ID card or passport"


def _portal(app, client, browser, external):
    with app.app_context():
        registration, secret = clients.create_client("Fremdportal GmbH" if external else "Stadt Leer",
                                                     [REDIRECT], external=external)
        db.session.commit()
    return RelyingParty(client, browser, {"client_id": registration.client_id, "client_secret": secret,
                                          "redirect_uri": REDIRECT})


@pytest.fixture
def external(app, client, browser):
    return _portal(app, client, browser, external=True)


@pytest.fixture
def member(app, client, browser):
    return _portal(app, client, browser, external=False)


def _released(portal, code) -> tuple[dict, dict]:
    """The ID token's claims and the userinfo answer for ``code``."""
    tokens = portal.redeem(code).get_json()
    return portal.id_token(tokens["id_token"]), portal.userinfo(tokens["access_token"]).get_json()


def _consent_scopes(app) -> set:
    with app.app_context():
        return Consent.query.one().scopes


def test_external_portal_asking_only_for_openid_and_verified_claims_gets_a_consent_page(external, verified):
    page = external.authorize("openid", consent=None, claims=CLAIMS, ui_locales="en")
    assert page.status_code == 200 and external.is_consent_page(page)
    assert CONSENT_WORDS in Browser.soup(page).select_one(".consent-list").get_text()


def test_external_portal_receives_verified_claims_once_the_citizen_allowed_it(app, external, verified):
    code = external.code("openid", claims=CLAIMS)
    id_token, userinfo = _released(external, code)
    assert id_token["verified_claims"]["claims"]["family_name"] == PERSON["family_name"]
    assert userinfo["verified_claims"]["claims"]["birthdate"] == PERSON["birthdate"]
    assert "verified_claims" in _consent_scopes(app)


def test_declining_keeps_verified_claims_from_the_external_portal(external, verified):
    page = external.authorize("openid", consent=None, claims=CLAIMS)
    result = external.callback(external.decide(page, "deny"))
    assert result["error"] == "access_denied" and "code" not in result


def test_consent_to_scopes_does_not_cover_verified_claims(external, verified):
    external.code("openid email")
    page = external.authorize("openid email", consent=None, claims=CLAIMS)
    assert external.is_consent_page(page)


def test_prompt_none_without_consent_to_verified_claims_is_consent_required(external, verified):
    external.code("openid email")
    result = external.callback(external.authorize("openid email", prompt="none", claims=CLAIMS))
    assert result["error"] == "consent_required" and "code" not in result


def test_prompt_none_with_consent_to_verified_claims_releases_them(external, verified):
    external.code("openid", claims=CLAIMS)
    code = external.code("openid", prompt="none", claims=CLAIMS)
    id_token, _userinfo = _released(external, code)
    assert id_token["verified_claims"]["claims"]["given_name"] == PERSON["given_name"]


def test_revoked_consent_stops_the_release_of_verified_claims(app, external, verified):
    external.code("openid", claims=CLAIMS)
    code = external.code("openid", claims=CLAIMS)  # issued while the consent stood, redeemed after it went
    page = verified.get("/account?lang=en")
    consent = next(li for li in Browser.soup(page).select("section[aria-labelledby=portals-h] li")
                   if "Fremdportal GmbH" in li.get_text())
    assert CONSENT_WORDS in consent.get_text()
    assert verified.submit_page(page, {}, selector="form[action*='/account/consents/']").status_code == 302
    id_token, userinfo = _released(external, code)
    assert "verified_claims" not in id_token and "verified_claims" not in userinfo
    assert external.is_consent_page(external.authorize("openid", consent=None, claims=CLAIMS))


def test_tokens_issued_without_consent_to_verified_claims_do_not_release_them(app, external, verified):
    # Codes issued before verified_claims needed a consent of their own carry the request but no consent.
    code = external.code("openid email")
    with app.app_context():
        from buergerkonto.idp.oidc.models import AuthorizationCode

        AuthorizationCode.query.one().claims_request = json.loads(CLAIMS)
        db.session.commit()
    id_token, userinfo = _released(external, code)
    assert "verified_claims" not in id_token and "verified_claims" not in userinfo


def test_member_portal_receives_verified_claims_without_a_consent_page(app, member, verified):
    response = member.authorize("openid", consent=None, claims=CLAIMS)
    id_token, userinfo = _released(member, member.callback(response)["code"])
    assert id_token["verified_claims"]["claims"]["family_name"] == PERSON["family_name"]
    assert userinfo["verified_claims"]["claims"]["family_name"] == PERSON["family_name"]
    with app.app_context():
        assert Consent.query.count() == 0
