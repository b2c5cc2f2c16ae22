"""Levels of assurance: acr_values and essential acr, step-up, the step-up page, STORK aliases."""

import json

import pyotp
import pytest

from support.plugin import enable_totp

from .conftest import substantial_offline_tokens

LOW = "http://eidas.europa.eu/LoA/low"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
HIGH = "http://eidas.europa.eu/LoA/high"


def essential(*values):
    return json.dumps({"id_token": {"acr": {"essential": True, "values": list(values)}}})


@pytest.fixture
def proofed_substantial(app):
    """The trust-levels part vouches for a substantial identity check (via the hook it registers)."""
    app.extensions["buergerkonto.hooks"].proofing_level.append(lambda account: "substantial")


def test_default_level_is_low(rp, citizen):
    assert rp.id_token(rp.tokens()["id_token"])["acr"] == LOW


def test_step_up_with_second_factor_raises_level(rp, browser, citizen, app, proofed_substantial):
    secret = enable_totp(app, citizen["id"])
    response = browser.get(rp.authorize_url(acr_values=SUBSTANTIAL))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in/second-factor?next=")
    done = browser.submit(response.headers["Location"], {"code": pyotp.TOTP(secret).now()})
    result = rp.callback(browser.follow(done))
    claims = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert claims["acr"] == SUBSTANTIAL
    assert set(claims["amr"]) == {"pwd", "otp", "mfa"}


def test_step_up_needed_with_prompt_none_is_interaction_required(rp, citizen, app, proofed_substantial):
    enable_totp(app, citizen["id"])
    result = rp.callback(rp.authorize(acr_values=SUBSTANTIAL, prompt="none"))
    assert result["error"] == "interaction_required" and "code" not in result


def test_unreachable_essential_level_shows_page_and_returns_unmet(rp, citizen):
    page = rp.authorize(claims=essential(SUBSTANTIAL))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Bürgerbüro" in text
    assert "continue-lower" not in text  # essential: no way to go on with less
    result = rp.callback(rp.decide(page, "return"))
    assert result["error"] == "unmet_authentication_requirements"
    assert result["iss"] == "http://localhost" and "code" not in result


def test_forged_continue_decision_never_issues_code_for_essential_request(rp, citizen, browser):
    page = rp.authorize(claims=essential(HIGH))
    form = browser.soup(page).select_one("form[action*='/authorize/decide/']")
    data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
    data["decision"] = "continue-lower"
    response = browser.follow(browser.post(form["action"], data=data))
    assert response.status_code == 200  # the step-up page again, no code
    assert "Location" not in response.headers


def test_unreachable_preferred_level_may_continue_lower(rp, citizen):
    page = rp.authorize(acr_values=SUBSTANTIAL)
    assert page.status_code == 200
    result = rp.callback(rp.decide(page, "continue-lower"))
    claims = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert claims["acr"] == LOW


@pytest.mark.parametrize("portal", [{"external": True}, {}])
def test_continuing_lower_then_consenting_issues_a_code(make_rp, citizen, portal):
    # An external portal asks for consent to everything, a member portal for offline access: with a
    # preferred level out of reach, the citizen answers the step-up page, then the consent page.
    rp = make_rp(**portal)
    scope = "openid email" if portal else "openid offline_access"
    step_up = rp.authorize(scope, consent=None, acr_values=SUBSTANTIAL)
    consent = rp.decide(step_up, "continue-lower")
    assert rp.is_consent_page(consent)
    result = rp.callback(rp.decide(consent, "allow"))
    claims = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert claims["acr"] == LOW
    # The consent was kept: the next request asks only about the level again.
    assert not rp.is_consent_page(rp.authorize(scope, consent=None, acr_values=SUBSTANTIAL))


def test_unreachable_essential_with_prompt_none_is_unmet(rp, citizen):
    result = rp.callback(rp.authorize(claims=essential(HIGH), prompt="none"))
    assert result["error"] == "unmet_authentication_requirements"


def test_preferred_level_with_prompt_none_issues_lower_level(rp, citizen):
    claims = rp.id_token(rp.tokens(acr_values=SUBSTANTIAL, prompt="none")["id_token"])
    assert claims["acr"] == LOW


def test_stork_alias_is_answered_in_the_requested_vocabulary(rp, browser, citizen, app, proofed_substantial):
    secret = enable_totp(app, citizen["id"])
    response = browser.get(rp.authorize_url(claims=essential("STORK-QAA-Level-3")))
    done = browser.submit(response.headers["Location"], {"code": pyotp.TOTP(secret).now()})
    result = rp.callback(browser.follow(done))
    claims = rp.id_token(rp.redeem(result["code"]).get_json()["id_token"])
    assert claims["acr"] == "STORK-QAA-Level-3"


def test_low_alias_is_met_by_low_session(rp, citizen):
    claims = rp.id_token(rp.tokens(claims=essential("STORK-QAA-Level-2"))["id_token"])
    assert claims["acr"] == "STORK-QAA-Level-2"


def test_unknown_essential_acr_is_unmet(rp, citizen):
    result = rp.callback(rp.authorize(claims=essential("urn:example:unknown")))
    assert result["error"] == "unmet_authentication_requirements"


def test_refresh_keeps_stepped_up_acr(rp, browser, citizen, app, proofed_substantial):
    tokens = substantial_offline_tokens(rp, browser, app, citizen)
    refreshed = rp.refresh(tokens["refresh_token"]).get_json()
    assert rp.id_token(refreshed["id_token"], nonce=False)["acr"] == SUBSTANTIAL
