"""Every page's security headers, CSRF on every form, and no open redirect through ``next``."""

import itertools
from urllib.parse import quote, urljoin, urlsplit

import pytest

from support.browser import Browser

from .conftest import sign_in

ANONYMOUS_PAGES = ["/", "/sign-in", "/register", "/register/sent", "/forgot-password",
                   "/confirm-email/nonsense", "/reset-password/nonsense", "/account/email/confirm/nonsense",
                   "/no-such-page", "/static/style.css", "/sign-in/second-factor", "/account"]
SIGNED_IN_PAGES = ["/account", "/account/profile", "/account/password", "/account/email", "/account/totp",
                   "/account/delete", "/account/export", "/account/totp/disable", "/account/recovery-codes",
                   "/sign-out"]


def _assert_security_headers(response, url):
    headers = response.headers
    assert headers.get("X-Frame-Options") == "DENY", url
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, url
    assert headers.get("Referrer-Policy") == "same-origin", url
    assert headers.get("X-Content-Type-Options") == "nosniff", url


def _https_sign_in(make_app, account, referer):
    # Over HTTPS Flask-WTF wants a same-origin Referer with every form; a browser sends one under
    # Referrer-Policy: same-origin (the page's), and none under no-referrer.
    base = "https://konto.example"
    client = make_app(ISSUER=base).test_client()
    page = client.get("/sign-in", base_url=base)
    token = Browser.soup(page).select_one("input[name=csrf_token]")["value"]
    headers = {"Referer": referer} if referer else {}
    return client.post("/sign-in", base_url=base, headers=headers, data={
        "csrf_token": token, "email": account["email"], "password": account["password"], "next": "/account"})


def test_over_https_forms_sent_as_browsers_send_them_work(make_app, make_account):
    response = _https_sign_in(make_app, make_account(), "https://konto.example/sign-in")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("referer", [None, "https://boese.example/sign-in", "http://konto.example/sign-in"])
def test_over_https_a_form_from_elsewhere_or_without_referer_is_refused(make_app, make_account, referer):
    response = _https_sign_in(make_app, make_account(), referer)
    assert response.status_code == 400


def test_every_anonymous_page_sends_the_security_headers(browser):
    for url in ANONYMOUS_PAGES:
        response = browser.get(url)
        response.close()  # static files stream from disk
        assert response.status_code < 500, url
        _assert_security_headers(response, url)


def test_every_signed_in_page_sends_the_security_headers(signed_in):
    for url in SIGNED_IN_PAGES:
        response = signed_in.get(url)
        assert response.status_code < 500, url
        _assert_security_headers(response, url)
        if response.mimetype == "text/html":
            assert "no-store" in response.headers.get("Cache-Control", ""), url


def test_error_responses_send_the_security_headers_too(browser):
    for response in (browser.get("/no-such-page"), browser.client.delete("/sign-in"),
                     browser.post("/sign-in", data={})):
        assert 400 <= response.status_code < 500
        _assert_security_headers(response, response.request.path)


def _forms(app, signed_in_browser):
    """Every (url, form selector) a citizen can post."""
    return [("/sign-in", "form[method=post]"), ("/register", "form[method=post]"),
            ("/forgot-password", "form[method=post]"), ("/account/profile", "form[method=post]"),
            ("/account/password", "form[method=post]"), ("/account/email", "form[method=post]"),
            ("/account/totp", "form[method=post]"), ("/account/delete", "form[method=post]"),
            ("/account/totp/disable", "form[method=post]"), ("/account", "form[action='/account/sessions/end-all']"),
            ("/sign-out", "form[method=post]")]


CSRF_TOKENS = [None, "", "forged", "IjEyMzQ1Njc4OTAi.ZZZZZZ.abcdefghijklmnopqrstuvwxyz0"]


def test_posts_without_a_valid_csrf_token_get_a_clear_400_and_change_nothing(app, signed_in, database):
    before = database.snapshot()
    sessions_before = database.rows("SELECT id, ended_at FROM web_session ORDER BY id")
    for (url, selector), token in itertools.product(_forms(app, signed_in), CSRF_TOKENS):
        page = signed_in.get(url)
        assert page.status_code == 200, url
        form = signed_in.soup(page).select_one(selector)
        data = {el["name"]: el.get("value", "") for el in form.select("input[name]")}
        data.update(current_password=signed_in.account["password"], password="Neues-Passwort-2026-x",
                    password_repeat="Neues-Passwort-2026-x", confirm="y", email=signed_in.account["email"],
                    new_email="csrf@example.org", name="Gefälscht", code="123456")
        if token is None:
            data.pop("csrf_token")
        else:
            data["csrf_token"] = token
        response = signed_in.post(form.get("action") or url, data=data)
        assert response.status_code == 400, url
        html = response.get_data(as_text=True)
        assert "<h1>" in html and "sicherheit" in html.lower(), url
        _assert_security_headers(response, url)
    assert database.snapshot() == before
    assert database.rows("SELECT id, ended_at FROM web_session ORDER BY id") == sessions_before
    assert signed_in.get("/account").status_code == 200


def test_a_csrf_token_from_another_session_is_refused(app, signed_in, database):
    attacker = Browser(app.test_client())
    foreign = attacker.csrf_token("/sign-in")
    before = database.snapshot()
    response = signed_in.post("/account/delete", data={"csrf_token": foreign, "confirm": "y",
                                                       "current_password": signed_in.account["password"]})
    assert response.status_code == 400
    assert database.snapshot() == before


EVIL_TARGETS = [
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example",
    "http://evil.example/account", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,hi",
    "https:evil.example", "https:/evil.example", "//evil.example/%2e%2e", " //evil.example",
    "\t//evil.example", "/\t/evil.example", "//\\evil.example", "evil.example", "@evil.example",
    "%2F%2Fevil.example", "/%5Cevil.example", "%252F%252Fevil.example", "/%09/evil.example",
    "http://localhost@evil.example/", "//localhost%2F@evil.example",
]


def _stays_here(location: str) -> bool:
    resolved = urlsplit(urljoin("http://localhost/sign-in", location))
    return (resolved.scheme, resolved.hostname) == ("http", "localhost") and "\\" not in location \
        and not location.startswith("//")


def test_next_only_goes_to_paths_of_this_service(app, make_account):
    account = make_account()
    browser = Browser(app.test_client())
    for target in EVIL_TARGETS:
        # Through the link a phisher would send ...
        page = browser.get("/sign-in?next=" + quote(target, safe=""))
        assert page.status_code == 200
        response = browser.submit_page(page, {"email": account["email"], "password": account["password"]})
        assert response.status_code == 302
        assert _stays_here(response.headers["Location"]), (target, response.headers["Location"])
        # ... and posted straight into the hidden field.
        token = browser.csrf_token("/sign-in")
        response = browser.post("/sign-in", data={"csrf_token": token, "email": account["email"],
                                                  "password": account["password"], "next": target})
        assert response.status_code == 302
        assert _stays_here(response.headers["Location"]), (target, response.headers["Location"])


def test_next_to_a_path_of_this_service_is_followed(browser, make_account):
    account = make_account()
    for target in ("/account/profile", "/account?tab=1", "/oauth/authorize?client_id=x&state=y"):
        response = sign_in(browser, account["email"], account["password"], next_url=quote(target, safe="/"))
        assert response.headers["Location"] == target


def test_safe_next_unit():
    from buergerkonto.idp.web import safe_next

    for target in EVIL_TARGETS + ["", None, "/" + "a" * 3000]:
        result = safe_next(target)
        assert _stays_here(result), (target, result)
    assert safe_next("/account/email") == "/account/email"
    for control in ("\x00", "\x09", "\x0a", "\x0d", "\x1f"):
        assert safe_next(f"/account{control}x") == "/account", repr(control)
    assert safe_next("/account?q=a%1Fb ~\x7f") == "/account?q=a%1Fb ~\x7f"  # (escaped, or not a control character)


def test_a_response_s_own_header_is_kept_and_each_header_sent_once(browser):
    jwks = browser.get("/oauth/jwks")  # cacheable by design: the keys are public
    assert jwks.headers.getlist("Cache-Control") == ["public, max-age=300"]
    page = browser.get("/sign-in")
    for name in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options",
                 "Cache-Control"):
        assert len(page.headers.getlist(name)) == 1, name
    static = browser.get("/static/" + _a_static_file())
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")


def _a_static_file() -> str:
    from pathlib import Path

    import buergerkonto.idp

    folder = Path(buergerkonto.idp.__file__).parent / "static"
    return next(path.relative_to(folder).as_posix() for path in sorted(folder.rglob("*.css")))
