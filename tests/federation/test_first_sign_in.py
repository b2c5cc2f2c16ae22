"""First sign-in with an upstream identity: create a new Bürgerkonto, or link an existing one."""

from support.plugin import sign_in

from support.upstream.helpers import account_count, events, identities, live_session


def test_sign_in_page_offers_the_service_account_and_keeps_the_portal_request(browser):
    page = browser.get("/sign-in?next=/oauth/authorize%3Fclient_id%3Dportal")
    link = browser.soup(page).select_one("#federation-sign-in")
    assert link is not None
    assert link["href"].startswith("/federation/start?next=")
    assert "oauth" in link["href"]


def test_first_sign_in_creates_an_account_from_upstream_data(app, browser, federated, upstream):
    response = federated("erika")
    assert response.status_code == 302
    assert response.headers["Location"] == "/federation/new"
    assert account_count(app) == 0  # nothing is created before the citizen chooses
    choice = browser.get("/federation/new")
    assert "Erika Mustermann" in choice.get_data(as_text=True)

    created = browser.submit_page(choice, {}, selector="form[action='/federation/new']")
    assert created.status_code == 302
    assert created.headers["Location"] == "/account"

    [(issuer, subject, account_id, level)] = identities(app)
    assert (issuer, subject, level) == (upstream.issuer, "erika", "high")
    with app.app_context():
        from buergerkonto.idp.models import Account

        account = Account.query.one()
        assert account.name == "Erika Mustermann"
        assert account.given_name == "Erika" and account.family_name == "Mustermann"
        assert account.email == "erika.mustermann@servicekonto.example"
        assert account.email_verified
        assert account.password_hash is None
        assert account.address["locality"] == "Köln"
    session = live_session(app, account_id)
    # The upstream's own methods (eID: hardware key and PIN) stay with the upstream sign-in's record;
    # the session counts them only through the level its acr maps to.
    assert session["amr"] == ["fed"]
    with app.app_context():
        from buergerkonto.federation.models import FederatedSession

        assert FederatedSession.query.filter_by(sid=session["sid"]).one().amr == ["hwk", "pin"]
    assert browser.get("/account").status_code == 200
    assert ("federation:account:create", {"issuer": upstream.issuer, "level": "high"}) in events(app)


def test_unconfirmed_upstream_email_is_not_taken_over(app, browser, federated):
    federated("lena")  # the upstream says email_verified = false
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    with app.app_context():
        from buergerkonto.idp.models import Account

        account = Account.query.one()
        assert account.email is None
        assert account.name == "Lena Schulz"


def test_matching_email_never_links_to_the_existing_account(app, browser, federated, make_account):
    existing = make_account("erika.mustermann@servicekonto.example")
    federated("erika")
    choice = browser.get("/federation/new")
    # The existing address is not offered, and creating does not touch the existing account.
    assert "erika.mustermann@servicekonto.example" not in choice.get_data(as_text=True)
    browser.submit_page(choice, {}, selector="form[action='/federation/new']")
    [(_, _, account_id, _)] = identities(app)
    assert account_id != existing["id"]
    with app.app_context():
        from buergerkonto.idp.extensions import db
        from buergerkonto.idp.models import Account

        assert db.session.get(Account, account_id).email is None
        assert db.session.get(Account, existing["id"]).email == existing["email"]


def test_first_sign_in_links_an_existing_account_after_signing_in_to_it(app, browser, federated, make_account):
    existing = make_account()
    federated("max")
    choice = browser.get("/federation/new")
    to_link = browser.get(browser.soup(choice).select_one("#federation-link")["href"])
    assert to_link.status_code == 302 and to_link.headers["Location"].startswith("/sign-in?next=")
    signed_in = sign_in(browser, existing["email"], existing["password"], next_url="/federation/link")
    assert signed_in.headers["Location"] == "/federation/link"
    confirm = browser.get("/federation/link")
    assert confirm.status_code == 200
    assert browser.soup(confirm).select_one("input[name=current_password]") is None  # just signed in
    linked = browser.submit_page(confirm, {})
    assert linked.status_code == 302
    assert identities(app) == [(identities(app)[0][0], "max", existing["id"], "substantial")]
    assert live_session(app, existing["id"])["amr"] == ["fed"]
    assert account_count(app) == 1


def test_linking_while_signed_in_from_before_needs_the_password(app, signed_in, federated):
    browser = signed_in
    federated("otto")
    confirm = browser.get("/federation/link")
    assert browser.soup(confirm).select_one("input[name=current_password]") is not None
    wrong = browser.submit_page(confirm, {"current_password": "not-the-password"})
    assert wrong.status_code == 400
    assert identities(app) == []
    right = browser.submit("/federation/link", {"current_password": browser.account["password"]})
    assert right.status_code == 302
    assert [row[2:] for row in identities(app)] == [(browser.account["id"], "high")]


def test_link_page_without_a_pending_upstream_sign_in_sends_to_sign_in(browser):
    response = browser.get("/federation/link")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert browser.get("/federation/new").status_code == 302
