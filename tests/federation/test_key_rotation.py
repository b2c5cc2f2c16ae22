"""Upstream key rotation works without a restart: an unknown kid fetches the JWKS once more."""

from support.upstream.helpers import identities


def _cached_kids(app, issuer):
    from buergerkonto.federation.models import Upstream

    with app.app_context():
        row = Upstream.query.filter_by(issuer=issuer).one()
        return {key["kid"] for key in row.jwks["keys"]}


def _sign_out(browser):
    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})


def test_upstream_key_rotation_is_picked_up_without_restart(app, browser, federated, upstream):
    federated("erika")
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    before = _cached_kids(app, upstream.issuer)
    _sign_out(browser)

    rotated = upstream.admin("rotate")
    assert rotated["kid"] not in before

    again = federated("erika")
    assert again.status_code == 302 and again.headers["Location"] == "/account"
    assert rotated["kid"] in _cached_kids(app, upstream.issuer)
    assert len(identities(app)) == 1


def test_unknown_kid_that_stays_unknown_is_refused_after_one_fetch(app, browser, federated, upstream):
    from support.upstream.helpers import events

    federated("erika")  # caches the keys
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    _sign_out(browser)
    with app.app_context():
        from buergerkonto.federation.models import Upstream

        fetched = Upstream.query.one().jwks_fetched_at

    upstream.admin("foreign-key", kid="never-published")
    response = federated("erika")
    assert response.status_code == 400
    assert ("federation:signin:refused", {"reason": "id-token:unknown-kid"}) in events(app)
    with app.app_context():
        assert Upstream.query.one().jwks_fetched_at > fetched  # it did look again
    assert browser.get("/account").status_code == 302
