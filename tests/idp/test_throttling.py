"""Brute-force protection: per account and per address, growing waits, shared counters, no enumeration."""

import pytest

from buergerkonto.idp import create_app
from support.browser import Browser

from .conftest import code_at, enrol_totp, sign_in

FREE = 5  # THROTTLE_FREE_FAILURES
BASE = 30  # THROTTLE_BASE_SECONDS


def _browser(app, address="192.0.2.10"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Browser(client)


def _attempt(browser, email, password):
    """One sign-in attempt; returns (status, Retry-After as int or None, error text)."""
    response = sign_in(browser, email, password)
    retry = response.headers.get("Retry-After")
    soup = browser.soup(response)
    message = soup.select_one("#password-error") or soup.select_one("main")
    text = message.get_text(" ", strip=True) if message else ""
    return response.status_code, int(retry) if retry else None, text


def _expire_locks(database):
    """Let the current wait pass (the counters themselves stay)."""
    database.execute("UPDATE throttle_counter SET locked_until = NULL")


def test_wrong_password_and_unknown_address_get_the_same_answer(app, make_account):
    account = make_account()
    browser = _browser(app)
    wrong = _attempt(browser, account["email"], "falsches-passwort-1")
    unknown = _attempt(browser, "gibt-es-nicht@example.org", "falsches-passwort-1")
    assert wrong == unknown
    assert wrong[0] == 401


def test_account_is_locked_after_the_free_failures_with_retry_after(app, make_account, database):
    account = make_account()
    browser = _browser(app)
    for _ in range(FREE):
        assert _attempt(browser, account["email"], "falsch-falsch-1")[0] == 401
    status, retry, message = _attempt(browser, account["email"], account["password"])
    assert status == 429
    assert 1 <= retry <= BASE
    # Even the right password does not get in while the account is locked.
    assert browser.get("/account").status_code == 302
    assert "account:login:lockout" in database.tags(account["id"])
    assert "account:login:success" not in database.tags(account["id"])


def test_the_wait_grows_step_by_step_up_to_the_cap(app, make_account, database):
    app.config["THROTTLE_MAX_SECONDS"] = 200
    account = make_account()
    browser = _browser(app)
    for _ in range(FREE):
        _attempt(browser, account["email"], "falsch-falsch-1")
    waits = []
    for _ in range(4):
        waits.append(_attempt(browser, account["email"], "falsch-falsch-1")[1])  # locked: 429
        _expire_locks(database)
        _attempt(browser, account["email"], "falsch-falsch-1")  # counts, locks longer
    waits.append(_attempt(browser, account["email"], "falsch-falsch-1")[1])
    assert waits[0] <= BASE
    # Each further failure doubles the wait (give or take the second a request takes) up to the cap.
    assert [round(w / BASE) for w in waits] == [1, 2, 4, round(200 / BASE), round(200 / BASE)], waits


def test_unknown_addresses_are_throttled_exactly_like_known_ones(app, make_account):
    account = make_account()
    answers = {}
    for label, email in (("known", account["email"]), ("unknown", "niemand-hier@example.org")):
        browser = _browser(app, address=f"198.51.100.{len(answers) + 1}")
        answers[label] = [_attempt(browser, email, "falsch-falsch-1") for _ in range(FREE + 2)]
    statuses = {label: [(a[0], a[1] is not None, a[2]) for a in values] for label, values in answers.items()}
    assert statuses["known"] == statuses["unknown"]
    assert [s[0] for s in statuses["known"]] == [401] * FREE + [429, 429]


def test_a_correct_password_clears_the_account_counter(app, make_account):
    account = make_account()
    browser = _browser(app)
    for _ in range(FREE - 1):
        _attempt(browser, account["email"], "falsch-falsch-1")
    assert _attempt(browser, account["email"], account["password"])[0] == 302
    for _ in range(FREE - 1):
        assert _attempt(browser, account["email"], "falsch-falsch-1")[0] == 401
    assert _attempt(browser, account["email"], account["password"])[0] == 302


def test_failures_from_one_address_lock_that_address_for_every_account(app, make_account, database):
    app.config["THROTTLE_IP_FREE_FAILURES"] = 8
    victim = make_account()
    attacker = _browser(app, "203.0.113.66")
    for n in range(8):
        # A different address each time: no single account reaches its limit.
        assert _attempt(attacker, f"opfer{n}@example.org", "Sommer2026!")[0] == 401
    assert _attempt(attacker, victim["email"], victim["password"])[0] == 429
    # A spoofed X-Forwarded-For does not help (no trusted proxy configured).
    attacker.client.environ_base["HTTP_X_FORWARDED_FOR"] = "10.9.8.7"
    assert _attempt(attacker, victim["email"], victim["password"])[0] == 429
    # The citizen at another address is not affected.
    assert _attempt(_browser(app, "192.0.2.77"), victim["email"], victim["password"])[0] == 302
    assert any(e["tag"] == "account:login:lockout" and e["account_id"] is None for e in database.events())


def test_counters_live_in_the_database_so_a_second_instance_sees_them(app, app_config, make_account):
    account = make_account()
    first = _browser(app)
    for _ in range(FREE):
        _attempt(first, account["email"], "falsch-falsch-1")
    other_instance = create_app(app_config)
    try:
        second = _browser(other_instance, "192.0.2.99")
        assert _attempt(second, account["email"], account["password"])[0] == 429
    finally:
        from buergerkonto.idp.extensions import db

        with other_instance.app_context():
            db.session.remove()
            db.engine.dispose()


def test_throttled_answer_as_problem_json(app, make_account):
    account = make_account()
    browser = _browser(app)
    for _ in range(FREE):
        _attempt(browser, account["email"], "falsch-falsch-1")
    token = browser.csrf_token("/sign-in")
    response = browser.post("/sign-in", data={"csrf_token": token, "email": account["email"],
                                              "password": "egal-egal-1"},
                            headers={"Accept": "application/problem+json"})
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) == response.get_json()["retry_after"]


def test_wrong_totp_codes_are_throttled(app, signed_in, totp_clock, database):
    secret, _codes = enrol_totp(signed_in, totp_clock)
    browser = _browser(app)
    assert sign_in(browser, signed_in.account["email"], signed_in.account["password"]).status_code == 302
    for _ in range(FREE):
        assert browser.submit("/sign-in/second-factor", {"code": "000000"}).status_code == 401
    totp_clock.now += 30
    right = browser.submit("/sign-in/second-factor", {"code": code_at(secret, totp_clock.now)})
    assert right.status_code == 429
    assert "Retry-After" in right.headers
    assert browser.get("/account").status_code == 302


def test_wrong_current_password_on_the_account_page_counts_too(signed_in, database):
    for _ in range(FREE):
        response = signed_in.submit("/account/totp/disable", {"current_password": "falsch-falsch-1"})
        assert response.status_code == 400
    response = signed_in.submit("/account/totp/disable", {"current_password": signed_in.account["password"]})
    assert response.status_code == 429


@pytest.mark.parametrize("path", ["/register", "/forgot-password"])
def test_registration_and_reset_answer_the_same_for_known_and_unknown(app, make_account, smtp, path):
    account = make_account()
    answers = []
    for email in (account["email"], "unbekannt@example.org"):
        browser = _browser(app)
        data = {"email": email}
        if path == "/register":
            data.update(password="Ein-langes-Passwort-1", password_repeat="Ein-langes-Passwort-1")
        response = browser.submit(path, data)
        page = browser.follow(response)
        answers.append((response.status_code, page.status_code,
                        page.get_data(as_text=True).replace(email, "ADDRESS")))
    assert answers[0] == answers[1]


def test_paths_the_limiter_skips_declare_no_limits(app):
    """The OAuth endpoints and discovery skip the limiter's per-request work: none may carry a limit."""
    from flask_limiter.util import get_qualified_name

    from buergerkonto.idp.extensions import limiter

    def limits(rule):
        return limiter.limit_manager.decorated_limits(get_qualified_name(app.view_functions[rule.endpoint]))

    with app.app_context():
        skipped = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(("/oauth/", "/.well-known/"))]
        assert len(skipped) >= 6  # token, revoke, introspect, userinfo, JWKS, discovery (at least)
        assert all(limits(rule) == [] for rule in skipped)
        limited = [rule.rule for rule in app.url_map.iter_rules() if limits(rule)]
    assert "/register" in limited and "/api/postbox/v1/messages" in limited


def test_view_limits_hold_without_the_per_request_hook_and_app_wide_limits_bring_it_back(make_app):
    """The limiter's before-request hook is dropped when no app-wide limit is set (``app.py``):
    the limits on views must still hold, and an operator's default limit must still apply."""
    from buergerkonto.idp.extensions import limiter

    app = make_app(RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False)
    assert limiter._check_request_limit not in app.before_request_funcs[None]
    client = app.test_client()
    answers = [client.post("/confirm-email/resend", data={"email": "a@example.org"}).status_code
               for _ in range(11)]  # "10 per hour", checked by the view's decorator
    assert answers == [200] * 10 + [429]

    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="3 per minute")
    assert limiter._check_request_limit in app.before_request_funcs[None]
    client = app.test_client()
    assert [client.get("/sign-in").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert {client.get("/oauth/jwks").status_code for _ in range(5)} == {200}  # OAuth stays exempt


def test_an_ipv6_client_counts_as_its_whole_64(make_app):
    """One connection gets a /64 and picks addresses from it at will: limits and lockouts count the
    /64, not each address (else 25 addresses sent 25 reset mails past a limit of 10 an hour)."""
    limited = make_app(RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False)
    answers = []
    for n in range(11):
        client = limited.test_client()
        client.environ_base["REMOTE_ADDR"] = f"2001:db8:1:2::{n + 1:x}"
        answers.append(client.post("/confirm-email/resend", data={"email": "a@example.org"}).status_code)
    assert answers == [200] * 10 + [429]
    elsewhere = limited.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "2001:db8:1:3::1"  # another /64
    assert elsewhere.post("/confirm-email/resend", data={"email": "a@example.org"}).status_code == 200

    # Failed sign-ins from many addresses of one /64 lock that /64 (per-address free failures: 20).
    from buergerkonto.idp.throttle import ip_key

    assert ip_key("2001:db8:1:2::1") == ip_key("2001:db8:1:2:ffff::9") == "ip:2001:db8:1:2::/64"
    assert ip_key("192.0.2.10") == "ip:192.0.2.10" and ip_key(None) == "ip:unknown"
