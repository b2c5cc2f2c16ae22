"""The account page shows the link; unlinking needs the password, or is refused when it leaves no way in."""

import json

from support.plugin import sign_in
from support.upstream.helpers import events, identities


def _link_existing(browser, federated, account, login="erika"):
    federated(login)
    sign_in(browser, account["email"], account["password"], next_url="/federation/link")
    browser.submit("/federation/link", {})


def test_account_page_offers_linking_when_not_linked(signed_in):
    page = signed_in.get("/account").get_data(as_text=True)
    assert "/federation/start?next=/account" in page


def test_account_page_shows_the_link_and_unlinking_needs_the_password(app, browser, federated, make_account):
    account = make_account()
    _link_existing(browser, federated, account)
    page = browser.get("/account")
    form = browser.soup(page).select_one("form[action='/federation/unlink']")
    assert form is not None
    assert form.select_one("input[name=current_password]")["autocomplete"] == "current-password"

    wrong = browser.submit_page(page, {"current_password": "wrong-password"},
                                selector="form[action='/federation/unlink']")
    assert wrong.status_code == 400
    assert len(identities(app)) == 1

    done = browser.submit("/account", {"current_password": account["password"]},
                          selector="form[action='/federation/unlink']")
    assert done.status_code == 302
    assert identities(app) == []
    assert ("federation:link:remove", {"issuer": app.config["UPSTREAM_ISSUER"]}) in events(app)


def test_unlinking_is_refused_when_the_upstream_is_the_only_way_in(app, browser, federated):
    federated("erika")
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    page = browser.get("/account")
    assert browser.soup(page).select_one("form[action='/federation/unlink']") is None
    # Even a hand-made request is refused.
    [(_, _, account_id, _)] = identities(app)
    with app.app_context():
        from buergerkonto.federation.models import FederatedIdentity

        identity_id = FederatedIdentity.query.one().id
    response = browser.post("/federation/unlink", data={"csrf_token": browser.csrf_token("/account"),
                                                        "identity": identity_id, "current_password": "anything"})
    assert response.status_code == 302
    assert len(identities(app)) == 1
    assert [tag for tag, _ in events(app)].count("federation:link:remove_refused") == 1


def test_someone_elses_link_cannot_be_removed(app, browser, federated, make_account):
    from support.browser import Browser

    owner = make_account()
    _link_existing(browser, federated, owner)
    with app.app_context():
        from buergerkonto.federation.models import FederatedIdentity

        identity_id = FederatedIdentity.query.one().id
    intruder = make_account()
    other = Browser(app.test_client())
    sign_in(other, intruder["email"], intruder["password"])
    response = other.post("/federation/unlink", data={"csrf_token": other.csrf_token("/account"),
                                                      "identity": identity_id,
                                                      "current_password": intruder["password"]})
    assert response.status_code == 404
    assert len(identities(app)) == 1


def test_export_contains_the_link_and_deletion_removes_it(app, browser, federated, make_account):
    account = make_account()
    _link_existing(browser, federated, account)
    exported = json.loads(browser.get("/account/export").get_data(as_text=True))
    [link] = exported["federation"]["links"]
    assert link["subject"] == "erika" and link["level"] == "high"
    assert "id_token" not in json.dumps(exported)

    deleted = browser.submit("/account/delete", {"current_password": account["password"], "confirm": "y"})
    assert deleted.status_code == 200
    assert identities(app) == []
    with app.app_context():
        from buergerkonto.federation.models import FederatedSession

        assert FederatedSession.query.count() == 0
