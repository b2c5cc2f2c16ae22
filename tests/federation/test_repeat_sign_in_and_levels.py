"""Once linked, the upstream signs in; its acr decides the session's level; its data becomes verified_claims."""

import pytest

from support.upstream.helpers import (account_count, account_row, hook, identities, live_session,
                                      session_record)

from support.upstream.harness import query_of


def _create(browser, federated, login):
    federated(login)
    return browser.submit("/federation/new", {}, selector="form[action='/federation/new']")


def test_repeat_sign_in_signs_in_to_the_linked_account(app, browser, client, federated, upstream):
    _create(browser, federated, "erika")
    [(_, _, account_id, _)] = identities(app)
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    assert browser.get("/account").status_code == 302  # signed out

    again = federated("erika", next="/account/profile")
    assert again.status_code == 302
    assert again.headers["Location"] == "/account/profile"
    assert account_count(app) == 1
    assert live_session(app, account_id)["amr"] == ["fed"]
    assert browser.get("/account").status_code == 200


@pytest.mark.parametrize(("login", "level"), [("erika", "high"), ("otto", "high"), ("max", "substantial"),
                                              ("lena", "low")])
def test_session_level_follows_the_upstream_acr(app, browser, federated, login, level):
    _create(browser, federated, login)
    [(_, _, account_id, _)] = identities(app)
    session = live_session(app, account_id)
    assert hook(app, "session_level", session_record(session["sid"])) == [level]
    assert hook(app, "proofing_level", account_row(account_id)) == [level]


def test_a_password_session_of_a_linked_account_has_no_upstream_level(app, browser, federated, make_account):
    from support.plugin import sign_in

    existing = make_account()
    federated("erika")
    sign_in(browser, existing["email"], existing["password"], next_url="/federation/link")
    browser.submit("/federation/link", {})
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    sign_in(browser, existing["email"], existing["password"])
    session = live_session(app, existing["id"])
    assert session["amr"] == ["pwd"]
    assert hook(app, "session_level", session_record(session["sid"])) == [None]
    # The identity proof of the eID stays with the account while it is linked.
    assert hook(app, "proofing_level", account_row(existing["id"])) == ["high"]


def test_portal_level_is_passed_upstream_as_acr_values(browser, federated, upstream):
    portal = "/oauth/authorize?client_id=portal&acr_values=http://eidas.europa.eu/LoA/high"
    federated("erika", next=portal)
    sent = upstream.admin_get("last-authorization")["acr_values"].split()
    assert sent == ["http://eidas.europa.eu/LoA/high", "STORK-QAA-Level-4"]
    # After the first-sign-in choice the citizen returns to the portal's request.
    created = browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    assert created.headers["Location"] == portal


def test_without_a_portal_level_any_mapped_value_is_acceptable_weakest_first(federated, upstream):
    federated("lena")
    sent = upstream.admin_get("last-authorization")
    assert sent["acr_values"].split()[0] in ("http://eidas.europa.eu/LoA/low", "STORK-QAA-Level-1")
    assert "http://eidas.europa.eu/LoA/high" in sent["acr_values"].split()
    assert sent["code_challenge_method"] == "S256"
    assert sent["nonce"] and sent["state"]


@pytest.mark.parametrize("upstream_name", ["Servicekonto des Landes", "  "], ids=["named", "blank-name"])
def test_upstream_verified_attributes_become_verified_claims_with_the_upstream_as_voucher(app, browser, federated,
                                                                                          upstream, upstream_name):
    _create(browser, federated, "erika")
    [(_, _, account_id, _)] = identities(app)
    session = live_session(app, account_id)
    [claims] = hook(app, "verified_claims", account_row(account_id), session_record(session["sid"]), None)
    [item] = claims
    assert item["claims"] == {"given_name": "Erika", "family_name": "Mustermann", "birthdate": "1964-08-12",
                              "address": {"street_address": "Heidestraße 17", "postal_code": "51147",
                                          "locality": "Köln", "country": "DE"}}
    verification = item["verification"]
    assert verification["trust_framework"] == "eidas"
    assert verification["assurance_level"] == "high"
    [evidence] = verification["evidence"]
    assert evidence["type"] == "vouch"
    assert evidence["attestation"]["type"] == "digital_attestation"
    assert evidence["voucher"]["organization"] == (upstream_name.strip() or upstream.issuer)  # never a blank name
    assert evidence["time"].endswith("Z")
    # A verified_claims request for some claims gets only those.
    [[only]] = hook(app, "verified_claims", account_row(account_id), session_record(session["sid"]),
                    {"claims": {"birthdate": None}})
    assert only["claims"] == {"birthdate": "1964-08-12"}


def test_self_asserted_upstream_data_is_not_offered_as_verified(app, browser, federated):
    _create(browser, federated, "lena")
    [(_, _, account_id, _)] = identities(app)
    session = live_session(app, account_id)
    assert hook(app, "verified_claims", account_row(account_id), session_record(session["sid"]), None) == [[]]


def test_operator_acr_map_overrides_the_defaults(make_app, browser, citizen_upstream):
    app = make_app(UPSTREAM_ACR_MAP='{"STORK-QAA-Level-3": "high"}')
    browser = type(browser)(app.test_client())
    start = browser.get("/federation/start")
    callback = citizen_upstream.authorize(start.headers["Location"], "max")
    browser.get(callback)
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    assert [row[3] for row in identities(app)] == ["high"]
    assert query_of(start.headers["Location"])["client_id"] == "buergerkonto"
