"""Bad input of every kind gets a clear 4xx and changes nothing; no page or form answers 500."""


from support.browser import Browser

from .conftest import PASSWORD, register, sign_in

WEIRD_STRINGS = [
    "", " ", "a" * 10_000, "\x00", "a\x00b@example.org", "<script>alert(1)</script>", "' OR 1=1 --",
    "\U0001F600" * 50, "@", "@@", "a@", "@b", "a@b@c", "a@[127.0.0.1]",
    "a@localhost", "\u202eevil@example.org", "%00", "\r\nBcc: victim@example.org", "a@example.org\r\nX: y",
    "x@" + "a" * 250 + ".org", "a" * 65 + "@example.org",
]


def _assert_clear_4xx(response, what):
    assert 400 <= response.status_code < 500, (what, response.status_code)
    assert "<h1>" in response.get_data(as_text=True) or response.mimetype.endswith("json"), what


def test_sign_in_with_garbage_is_a_clear_4xx(browser, make_account, database):
    make_account(email="echt@example.org")
    before = database.snapshot()
    for value in WEIRD_STRINGS:
        for data in ({"email": value, "password": "egal-egal-1"}, {"email": "echt@example.org", "password": value}):
            _assert_clear_4xx(browser.submit("/sign-in", data), data)
    assert database.snapshot()["account"] == before["account"]


def test_registration_with_a_garbage_address_is_a_clear_4xx(browser, database, smtp):
    for value in WEIRD_STRINGS:
        form = {"email": value, "name": "", "password": PASSWORD, "password_repeat": PASSWORD}
        _assert_clear_4xx(browser.submit("/register", form), value)
    assert database.rows("SELECT email FROM account") == []
    smtp.settle()
    assert smtp.messages == []


def test_registration_with_an_odd_name_or_password_never_fails_badly(browser, database):
    for number, value in enumerate(WEIRD_STRINGS):
        email = f"neu{number}@example.org"
        for data in ({"name": value}, {"password": value, "password_repeat": value}):
            form = {"email": email, "name": "", "password": PASSWORD, "password_repeat": PASSWORD}
            form.update(data)
            response = browser.submit("/register", form)
            assert response.status_code in (302, 400), (data, response.status_code)
            if response.status_code == 400:
                assert browser.soup(response).select_one(".error-summary, h1"), data
        # Whatever was accepted was stored as given, not cut.
        row = database.account(email)
        if row is not None and row["name"]:
            assert row["name"] == value.strip()


def test_header_injection_in_an_address_sends_nothing(browser, database, smtp):
    response = browser.submit("/forgot-password", {"email": "a@example.org\r\nBcc: victim@example.org"})
    assert 400 <= response.status_code < 500
    smtp.settle()
    assert smtp.messages == []


def test_unicode_addresses_are_normalised_once(browser, smtp, database):
    register(browser, "Jürgen@Bücher.Example")
    row = database.account("jürgen@bücher.example")
    assert row is not None
    # The same address spelled with the ASCII form of the domain, or in capitals, is the same account.
    for spelling in ("jürgen@xn--bcher-kva.example", "JÜRGEN@BÜCHER.EXAMPLE"):
        register(browser, spelling, password="Noch-ein-Versuch-2026")
    assert len(database.rows("SELECT id FROM account")) == 1


def test_a_decomposed_unicode_address_is_the_composed_one(browser, database):
    import unicodedata

    register(browser, unicodedata.normalize("NFC", "rené@example.org"))
    register(browser, unicodedata.normalize("NFD", "rené@example.org"), password="Noch-ein-Versuch-2026")
    assert len(database.rows("SELECT id FROM account")) == 1


def test_mail_to_an_internationalised_domain_is_delivered(browser, smtp, database):
    register(browser, "anna@bücher.example")
    link = smtp.link("anna@xn--bcher-kva.example", "/confirm-email/")
    assert browser.get(link).status_code == 200
    assert database.account("anna@bücher.example")["email_verified_at"] is not None


def test_a_huge_body_is_refused_cleanly(browser, database):
    before = database.snapshot()
    token = browser.csrf_token("/register")
    huge = "x" * (3 * 1024 * 1024)
    response = browser.post("/register", data={"csrf_token": token, "email": "gross@example.org",
                                                "password": huge, "password_repeat": huge, "name": huge})
    assert response.status_code in (400, 413)
    _assert_clear_4xx(response, "huge body")
    assert database.snapshot() == before


def test_a_huge_json_body_to_a_form_is_refused_cleanly(browser):
    response = browser.post("/sign-in", data="{" * 2_000_000, content_type="application/json")
    assert 400 <= response.status_code < 500


def test_many_form_fields_are_refused_cleanly(browser):
    token = browser.csrf_token("/sign-in")
    data = {f"f{i}": "x" for i in range(5000)}
    data.update(csrf_token=token, email="a@example.org", password="egal-egal-1")
    response = browser.post("/sign-in", data=data)
    assert 400 <= response.status_code < 500


def test_wrong_methods_and_unknown_paths_are_clear(browser):
    assert browser.client.put("/sign-in").status_code == 405
    assert browser.get("/nothing/here").status_code == 404
    assert browser.get("/account/sessions/x/end").status_code in (302, 405)


# --- no page or form answers 500 -------------------------------------------------------------------


def _routes(app):
    """Every rule of the core blueprints with placeholders filled with nonsense."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.endpoint.startswith(("auth.", "account.")):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<{argument}>", "nonsense-%E2%82%AC")
        yield path, rule.methods - {"HEAD", "OPTIONS"}


FUZZ = [{}, {"email": "x"}, {"email": "a" * 5000, "password": "b" * 5000, "code": "9" * 100,
                               "current_password": "\x00", "new_email": "@", "confirm": "y",
                               "name": "\U0001F600" * 300, "next": "//evil"}]


def _every_route_with_every_body(app, browser, signed):
    seen = 0
    for path, methods in _routes(app):
        for method in methods:
            bodies = FUZZ if method == "POST" else [{}]
            for body in bodies:
                if method == "POST":
                    body = {**body, "csrf_token": browser.csrf_token("/sign-in")}
                response = browser.client.open(path, method=method, data=body)
                assert response.status_code < 500, (method, path, body.keys(), response.status_code)
                response.close()
                seen += 1
    return seen


def test_no_route_answers_500_to_an_anonymous_visitor(app, browser):
    assert _every_route_with_every_body(app, browser, signed=False) > 20


def test_no_route_answers_500_to_a_signed_in_citizen(app, make_account):
    account = make_account()
    browser = Browser(app.test_client())
    sign_in(browser, account["email"], account["password"])
    # Ending the session along the way is fine; sign in again when it happens.
    assert _every_route_with_every_body(app, browser, signed=True) > 20


def test_nul_characters_anywhere_are_a_clear_400(signed_in, database):
    """PostgreSQL cannot store NUL: it must never reach a query (that would be a 500)."""
    before = database.snapshot()
    token = signed_in.csrf_token("/account")
    for response in (
        signed_in.post("/account/sessions/ab%00cd/end", data={"csrf_token": token}),
        signed_in.get("/confirm-email/abc%00def"),
        signed_in.get("/sign-in?next=/account%00"),
        signed_in.post("/account/profile", data={"csrf_token": token, "name": "Anna\x00"}),
    ):
        assert response.status_code == 400, response.request.path
    assert database.snapshot() == before
    assert signed_in.get("/account").status_code == 200
