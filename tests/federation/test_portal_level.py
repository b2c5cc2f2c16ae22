"""The upstream's level reaches the portal: an eID sign-in at the Land's service account gives a
portal's ID token `acr` high (and the upstream's vouched attributes when asked), a password
sign-in of the same account stays low."""

import json

import pyotp

from support.plugin import enable_totp

HIGH = "http://eidas.europa.eu/LoA/high"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LOW = "http://eidas.europa.eu/LoA/low"


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


def test_a_password_sign_in_after_the_eid_in_the_same_session_is_low(browser, federated, portal, make_account):
    """prompt=login in a session that came from the eID, answered with the password: the session keeps
    its sid (the portals stay signed in), but the new sign-in is a password's and the acr says so."""
    from support.plugin import sign_in

    existing = make_account()
    federated("erika")
    sign_in(browser, existing["email"], existing["password"], next_url="/federation/link")
    assert browser.submit("/federation/link", {}).status_code == 302
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    assert federated("erika").status_code == 302  # the linked account, signed in by the eID
    assert portal.id_token(portal.tokens("openid")["id_token"])["acr"] == HIGH

    response = browser.get(portal.authorize_url("openid", prompt="login"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"], {"email": existing["email"], "password": existing["password"]})
    again = portal.id_token(portal.redeem(portal.callback(browser.follow(done))["code"]).get_json()["id_token"])
    assert again["amr"] == ["pwd"] and again["acr"] == LOW


def _create_with_the_eid(app, browser, federated) -> int:
    """A Bürgerkonto created by an eID sign-in (identity proven at high), signed out again."""
    from support.upstream.helpers import identities

    federated("erika")
    assert browser.submit("/federation/new", {}, selector="form[action='/federation/new']").status_code == 302
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    [(_, _, account_id, _)] = identities(app)
    return account_id


# The upstream signs in with a password and a one-time code, says so in amr, but asserts only low.
LOW_WITH_UPSTREAM_MFA = {"acr": LOW, "amr": ["pwd", "otp", "mfa"]}


def test_an_upstream_mfa_does_not_lift_the_level_above_what_its_acr_maps_to(app, browser, federated, upstream,
                                                                            portal):
    _create_with_the_eid(app, browser, federated)
    upstream.admin("tamper", claims=LOW_WITH_UPSTREAM_MFA)
    assert federated("erika").status_code == 302
    id_token = portal.id_token(portal.tokens("openid")["id_token"])
    assert id_token["acr"] == LOW
    assert id_token["amr"] == ["fed"]


def test_a_second_factor_added_here_counts_on_a_federated_session_and_an_upstream_mfa_does_not_replace_it(
        app, browser, federated, upstream, portal):
    secret = enable_totp(app, _create_with_the_eid(app, browser, federated))
    upstream.admin("tamper", claims=LOW_WITH_UPSTREAM_MFA)
    assert federated("erika").status_code == 302

    asked = browser.get(portal.authorize_url("openid", acr_values=SUBSTANTIAL))
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/sign-in/second-factor?next=")
    done = browser.submit(asked.headers["Location"], {"code": pyotp.TOTP(secret).now()})
    id_token = portal.id_token(portal.redeem(portal.callback(browser.follow(done))["code"]).get_json()["id_token"])
    assert id_token["acr"] == SUBSTANTIAL
    assert id_token["amr"] == ["fed", "otp", "mfa"]


def test_the_return_from_the_land_answers_the_portal_with_its_code(browser, federated, portal):
    """The upstream's callback, like the sign-in form, answers with the redirect to the portal itself."""
    federated("erika")
    assert browser.submit("/federation/new", {}, selector="form[action='/federation/new']").status_code == 302
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    back = federated("erika", next=portal.authorize_url("openid"))
    result = portal.callback(back)  # no second trip through /authorize
    assert result["state"] == portal.state
    id_token = portal.id_token(portal.redeem(result["code"]).get_json()["id_token"])
    assert id_token["amr"][0] == "fed" and id_token["acr"] == HIGH
