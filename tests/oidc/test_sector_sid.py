"""``sid`` per sector, like the pairwise ``sub``: portals of different sectors cannot join their
records on the session id. ID tokens, logout tokens and the check of a logout hint agree on it;
the browser session keeps its own id inside the service.
"""

from urllib.parse import urlencode

from joserfc import jwt

from support.browser import Browser
from support.plugin import sign_in


def _sectors(make_rp, **options):
    a = make_rp(name="A", redirect_uris=("https://a.example/cb",), **options)
    b = make_rp(name="B", redirect_uris=("https://b.example/cb",), **options)
    return a, b


def _session_sid(app) -> str:
    from buergerkonto.idp.models import WebSession

    with app.app_context():
        return WebSession.query.filter(WebSession.ended_at.is_(None), WebSession.account_id.isnot(None)).one().sid


def test_portals_of_different_sectors_see_different_sids_for_one_session(make_rp, citizen, app):
    a, b = _sectors(make_rp)
    sid_a = a.id_token(a.tokens()["id_token"])["sid"]
    sid_b = b.id_token(b.tokens()["id_token"])["sid"]
    assert sid_a != sid_b
    assert _session_sid(app) not in (sid_a, sid_b)  # the session's own id stays inside


def test_portals_of_one_sector_see_the_same_sid(make_rp, citizen):
    a, b = _sectors(make_rp, sector_identifier="landkreis-leer.de")
    assert a.id_token(a.tokens()["id_token"])["sid"] == b.id_token(b.tokens()["id_token"])["sid"]


def test_one_portal_sees_one_sid_per_session_also_after_a_refresh(rp, citizen):
    tokens = rp.tokens("openid offline_access")
    first = rp.id_token(tokens["id_token"])["sid"]
    assert rp.id_token(rp.tokens("openid")["id_token"])["sid"] == first
    refreshed = rp.refresh(tokens["refresh_token"]).get_json()
    assert rp.id_token(refreshed["id_token"], nonce=False)["sid"] == first


def test_logout_tokens_name_the_sid_each_portal_got_in_its_id_token(make_rp, citizen, browser, receiver):
    a, b = _sectors(make_rp, backchannel_logout_uri=receiver.url)
    sids = {a.client_id: a.id_token(a.tokens()["id_token"])["sid"],
            b.client_id: b.id_token(b.tokens()["id_token"])["sid"]}
    browser.submit("/sign-out", {})
    received = {claims["aud"]: claims["sid"]
                for claims in (jwt.decode(raw, a.jwks()).claims for raw in receiver.wait_for(2))}
    assert received == sids


def test_logout_hint_of_an_earlier_session_asks_before_ending_this_one(app, make_rp, citizen, browser):
    rp = make_rp()
    earlier = rp.tokens("openid")["id_token"]
    browser.submit("/sign-out", {})
    assert sign_in(browser, citizen["email"], citizen["password"]).status_code == 302
    page = browser.get("/end-session?" + urlencode({"id_token_hint": earlier}))
    assert page.status_code == 200 and Browser.soup(page).select_one("input[name=confirm]") is not None
    assert browser.get("/account").status_code == 200  # still signed in


def test_logout_hint_of_this_session_signs_out_without_asking(make_rp, citizen, browser):
    rp = make_rp()
    hint = rp.tokens("openid")["id_token"]
    browser.get("/end-session?" + urlencode({"id_token_hint": hint}))
    assert browser.get("/account").status_code == 302


# Native apps redirect to the loopback address of their device (RFC 8252 §7.3): that host is no
# sector, or the apps of every operator would share one and could join their records on sub and sid.

def _native_app(make_rp, name, uri="http://127.0.0.1/callback"):
    return make_rp(name=name, public=True, redirect_uris=(uri,))


def test_unrelated_native_apps_get_different_pairwise_subjects_and_sids(make_rp, citizen):
    tax_app = _native_app(make_rp, "Hundesteuer-App (Stadt Leer)")
    other_app = _native_app(make_rp, "App eines Dritten", "http://[::1]:7000/cb")
    tax, other = (app.id_token(app.tokens()["id_token"]) for app in (tax_app, other_app))
    assert tax["sub"] != other["sub"] and tax["sid"] != other["sid"]


def test_native_apps_of_one_operator_share_subjects_when_registered_in_one_sector(make_rp, citizen):
    first, second = (make_rp(name=name, public=True, redirect_uris=("http://127.0.0.1/callback",),
                             sector_identifier="stadt-leer.de") for name in ("App 1", "App 2"))
    assert first.id_token(first.tokens()["id_token"])["sub"] == second.id_token(second.tokens()["id_token"])["sub"]
