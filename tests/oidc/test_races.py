"""Codes and refresh tokens used, and grants revoked, at the same moment (PostgreSQL).

RFC 9700 §4.14.2 / §4.5: a replayed code or refresh token must not yield two valid token sets;
when a replay is detected the grant is revoked, the winner's tokens included. A revocation (RFC 7009,
or the citizen withdrawing consent) running beside a refresh must end the pair the refresh makes.
"""

import pytest

from support.races import race

ROUNDS = 8


@pytest.fixture(autouse=True)
def _postgres_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("races are shown on PostgreSQL")


def _post_token(app, rp, data):
    client = app.test_client()
    return client.post("/oauth/token", data=data, headers=rp.basic_auth())


def _still_valid(rp, body):
    """Whether a token response's tokens still work: userinfo with the access token."""
    return rp.userinfo(body["access_token"]).status_code == 200


def test_a_code_redeemed_twice_at_once_never_leaves_a_valid_token(app, rp, citizen):
    problems = []
    for n in range(ROUNDS):
        code = rp.code("openid offline_access")
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
                "code_verifier": rp.verifier}
        results = race(*(lambda: _post_token(app, rp, data) for _ in range(3)))
        ok = [r.get_json() for r in results if r.status_code == 200]
        statuses = sorted(r.status_code for r in results)
        if len(ok) > 1:
            problems.append((n, "two token sets", statuses))
        elif len(ok) == 1 and len(results) > 1:
            body = ok[0]
            if _still_valid(rp, body) or rp.refresh(body["refresh_token"]).status_code == 200:
                problems.append((n, "replay detected but the winner's tokens still work", statuses))
        elif not ok:
            problems.append((n, "nobody got tokens", statuses))
    assert not problems, problems


def test_a_refresh_token_rotated_twice_at_once_never_leaves_a_valid_token(app, rp, citizen):
    problems = []
    tokens = rp.tokens("openid offline_access")
    for n in range(ROUNDS):
        data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        results = race(*(lambda: _post_token(app, rp, data) for _ in range(3)))
        ok = [r.get_json() for r in results if r.status_code == 200]
        statuses = sorted(r.status_code for r in results)
        if len(ok) > 1:
            problems.append((n, "two token sets", statuses))
        elif len(ok) == 1:
            body = ok[0]
            if _still_valid(rp, body):
                problems.append((n, "replay detected but the winner's access token still works", statuses))
            if rp.refresh(body["refresh_token"]).status_code == 200:
                problems.append((n, "replay detected but the winner's refresh token still works", statuses))
        else:
            problems.append((n, "nobody got tokens", statuses))
        tokens = rp.tokens("openid offline_access")  # a fresh grant for the next round
    assert not problems, problems


def _outcome_after(rp, refresh_response):
    """After the race: whether the refresh's new tokens still work (access token, refresh token)."""
    if refresh_response.status_code != 200:
        return None
    body = refresh_response.get_json()
    return _still_valid(rp, body), rp.refresh(body["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_while_it_is_being_rotated_ends_the_new_pair_too(app, rp, citizen):
    """RFC 7009: a portal (say, at its own sign-out) revokes its refresh token; this service
    promises that revoking a refresh token ends its whole grant. A refresh running at the same
    moment must not leave a working token pair behind."""
    survived = []
    for n in range(ROUNDS):
        tokens = rp.tokens("openid offline_access")
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        revoke = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}

        def do_revoke():
            return app.test_client().post("/oauth/revoke", data=revoke, headers=rp.basic_auth())

        refreshed, revoked = race(lambda: _post_token(app, rp, refresh), do_revoke)
        assert revoked.status_code == 200
        outcome = _outcome_after(rp, refreshed)
        if outcome and any(outcome):
            survived.append((n, outcome))
    assert not survived, (f"in {len(survived)} of {ROUNDS} rounds the grant's refresh token was revoked "
                          f"(200) yet the pair issued by the parallel refresh still works "
                          f"(access, refresh): {survived[:5]}")


def test_withdrawing_consent_while_the_portal_refreshes_ends_offline_access(app, make_rp, citizen,
                                                                                    browser):
    """The citizen withdraws a portal's consent on the account page ("offline access rests on the
    consent: the portal's refresh tokens end with it") while the portal refreshes."""
    from support.browser import Browser

    rp = make_rp(name="Externes Portal", external=True)
    survived = []
    for n in range(ROUNDS):
        tokens = rp.tokens("openid email offline_access")
        page = browser.get("/account")
        form = Browser.soup(page).select_one("form[action*='/account/consents/']")
        data = {el["name"]: el.get("value", "") for el in form.select("input[name]")}
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        refreshed, withdrawn = race(lambda: _post_token(app, rp, refresh),
                                     lambda: browser.client.post(form["action"], data=data))
        assert withdrawn.status_code == 302
        outcome = _outcome_after(rp, refreshed)
        if outcome and any(outcome):
            survived.append((n, outcome))
    assert not survived, (f"in {len(survived)} of {ROUNDS} rounds the consent was withdrawn yet the "
                          f"portal's parallel refresh left working tokens (access, refresh): {survived[:5]}")
