"""RP-Initiated Logout 1.0: id_token_hint validated, redirect only to registered URIs."""

import json
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import ECKey

LOGOUT_TARGET = "https://portal.example/logged-out"


def _portal(make_rp):
    return make_rp(post_logout_redirect_uris=[LOGOUT_TARGET])


def _signed_in(browser):
    return browser.get("/account").status_code == 200


def test_logout_with_hint_ends_session_and_redirects_with_state(make_rp, citizen, browser):
    rp = _portal(make_rp)
    id_token = rp.tokens()["id_token"]
    response = browser.get("/end-session?" + urlencode({"id_token_hint": id_token,
                                                        "post_logout_redirect_uri": LOGOUT_TARGET,
                                                        "state": "s1"}))
    assert response.status_code == 302
    assert response.headers["Location"] == LOGOUT_TARGET + "?state=s1"
    assert not _signed_in(browser)


def test_unregistered_post_logout_uri_gets_a_page_not_a_redirect(make_rp, citizen, browser):
    rp = _portal(make_rp)
    id_token = rp.tokens()["id_token"]
    response = browser.get("/end-session?" + urlencode({"id_token_hint": id_token,
                                                        "post_logout_redirect_uri": "https://evil.example/"}))
    assert response.status_code == 200 and "Location" not in response.headers
    assert not _signed_in(browser)


def test_tampered_hint_is_refused_and_session_stays(make_rp, citizen, browser):
    rp = _portal(make_rp)
    header, payload, signature = rp.tokens()["id_token"].split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    response = browser.get("/end-session?" + urlencode({"id_token_hint": tampered,
                                                        "post_logout_redirect_uri": LOGOUT_TARGET}))
    assert response.status_code == 400 and "Location" not in response.headers
    assert _signed_in(browser)


def test_hint_signed_with_foreign_key_or_alg_none_is_refused(make_rp, citizen, browser):
    rp = _portal(make_rp)
    claims = rp.id_token(rp.tokens()["id_token"])
    foreign = jwt.encode({"alg": "ES256"}, claims, ECKey.generate_key("P-256"))
    import base64
    none = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
                    for part in ({"alg": "none"}, claims)) + "."
    for hint in (foreign, none, "not-a-jwt"):
        response = browser.get("/end-session?" + urlencode({"id_token_hint": hint,
                                                            "post_logout_redirect_uri": LOGOUT_TARGET}))
        assert response.status_code == 400, hint
    assert _signed_in(browser)


def test_without_hint_the_citizen_is_asked_first(citizen, browser):
    page = browser.get("/end-session")
    assert page.status_code == 200 and _signed_in(browser)
    response = browser.submit_page(page, {}, url="/end-session")
    assert response.status_code == 200
    assert not _signed_in(browser)


def test_confirmation_without_csrf_does_not_log_out(citizen, browser):
    response = browser.post("/end-session", data={"confirm": "1"})
    assert response.status_code == 200
    assert _signed_in(browser)


def test_client_id_must_match_hint_audience(make_rp, citizen, browser):
    rp = _portal(make_rp)
    other = make_rp(name="Other")
    response = browser.get("/end-session?" + urlencode({"id_token_hint": rp.tokens()["id_token"],
                                                        "client_id": other.client_id}))
    assert response.status_code == 400 and _signed_in(browser)


def test_repeated_parameters_are_refused(make_rp, citizen, browser):
    rp = _portal(make_rp)
    hint = rp.tokens()["id_token"]
    response = browser.get("/end-session?" + urlencode([("id_token_hint", hint), ("id_token_hint", hint)]))
    assert response.status_code == 400 and _signed_in(browser)
