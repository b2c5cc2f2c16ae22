"""A refresh asserts no more than the account's identity proofing still vouches for.

A code grant stores the level achieved at sign-in (``Token.acr``), and a refresh keeps it (OIDC Core
§12.2; ``test_acr.py::test_refresh_keeps_stepped_up_acr``). The level is the lower of the identity
proofing and the session's strength, and proofing can be withdrawn: an office admin revokes the
Bürgerbüro's confirmation ("document reported stolen"), or the document expires. The refreshed ID
token, introspection and the postbox API's level gate then follow the proofing of today, as a new
sign-in in the same browser session does. (They kept ``substantial`` for the refresh token's 30 days.)

The proofing hook below stands in for the trust-levels part, whose ``proofing_level`` falls back
to ``low`` in exactly these two cases (``trust_levels.service.live_verification``).
"""

import json

import pytest

from .conftest import substantial_offline_tokens

LOW = "http://eidas.europa.eu/LoA/low"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"


@pytest.fixture
def proofing(app):
    """A proofing level the test can withdraw, as the trust-levels part reports it."""
    state = {"level": "substantial"}
    app.extensions["buergerkonto.hooks"].proofing_level.append(lambda account: state["level"])
    return state


def _substantial_offline_grant(rp, browser, app, citizen, scope="openid offline_access"):
    tokens = substantial_offline_tokens(rp, browser, app, citizen, scope)
    assert rp.id_token(tokens["id_token"])["acr"] == SUBSTANTIAL
    return tokens


def test_refresh_after_the_proofing_was_withdrawn_does_not_assert_the_old_level(rp, browser, citizen, app,
                                                                                 proofing):
    tokens = _substantial_offline_grant(rp, browser, app, citizen)
    proofing["level"] = "low"  # the Bürgerbüro's confirmation is revoked (or the document expired)

    # The same browser session asking again gets what it has now:
    now = rp.id_token(rp.tokens(acr_values=SUBSTANTIAL, prompt="none")["id_token"])
    assert now["acr"] == LOW

    refreshed = rp.refresh(tokens["refresh_token"]).get_json()
    claims = rp.id_token(refreshed["id_token"], nonce=False)
    assert claims["acr"] != SUBSTANTIAL, "refresh still asserts substantial after the proofing was withdrawn"


def test_introspection_after_the_proofing_was_withdrawn_does_not_report_the_old_level(rp, browser, citizen, app,
                                                                                      proofing):
    tokens = _substantial_offline_grant(rp, browser, app, citizen)
    proofing["level"] = "low"
    refreshed = rp.refresh(tokens["refresh_token"]).get_json()
    answer = rp.http.post("/oauth/introspect", data={"token": refreshed["access_token"]},
                          headers=rp.basic_auth()).get_json()
    assert answer["active"] is True
    assert answer.get("acr") != SUBSTANTIAL, json.dumps(answer)


def test_postbox_level_gate_after_the_proofing_was_withdrawn(rp, browser, citizen, app, client, proofing):
    """The postbox API gates each message by the token's ``acr`` (``mailbox.api._level``): a refreshed
    token keeps opening ``substantial`` notices for the refresh token's 30 days, while the citizen's own
    postbox page in the same session already locks them."""
    tokens = _substantial_offline_grant(rp, browser, app, citizen, "openid postbox.read offline_access")
    sub = rp.id_token(tokens["id_token"])["sub"]
    send_token = rp.http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "postbox.send"},
                              headers=rp.basic_auth()).get_json()["access_token"]
    sent = client.post("/api/postbox/v1/messages", headers={"Authorization": f"Bearer {send_token}"},
                       json={"recipient": sub, "subject": "Bescheid Meldebescheinigung", "body": "...",
                             "min_level": "substantial"})
    assert sent.status_code == 201, sent.get_json()
    message_id = sent.get_json()["id"]

    proofing["level"] = "low"  # the confirmation is revoked: "document reported stolen"
    assert "Bescheid Meldebescheinigung" not in browser.get(f"/postbox/{message_id}").get_data(as_text=True)

    refreshed = rp.refresh(tokens["refresh_token"]).get_json()
    read = client.get(f"/api/postbox/v1/messages/{message_id}",
                      headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert read.status_code == 401, f"the refreshed token still opens the substantial notice: {read.get_json()}"
