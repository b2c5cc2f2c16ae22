"""Account links and registrations used twice at the same moment (PostgreSQL).

Each round prepares the forms, then releases the requests together with a barrier, each from its own
browser. A round that goes wrong is counted; before the fixes most rounds of the link tests did.
"""

import unicodedata

import pytest

from support.browser import Browser
from support.races import race

from .conftest import PASSWORD

ROUNDS = 8


@pytest.fixture(autouse=True)
def _postgres_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("races are shown on PostgreSQL")


def _prepared_form(browser, url, data, selector="form[method=post]"):
    page = browser.get(url)
    assert page.status_code == 200, (url, page.status_code)
    form = Browser.soup(page).select_one(selector)
    fields = {el["name"]: el.get("value", "") for el in form.select("input[name]")
              if el.get("type") not in ("checkbox", "radio") or el.has_attr("checked")}
    fields.update(data)
    action = form.get("action") or url
    return lambda: browser.post(action, data=fields)


def test_a_reset_link_used_twice_at_once_sets_one_password(app, smtp, make_account, database):
    """The reset link is single-use (tests/idp/test_password_reset.py::test_reset_link_works_once).
    Two posts of the same link at the same moment (the owner and whoever else has the link) must
    not both be told 'Your password was changed'."""
    twice = []
    for n in range(ROUNDS):
        account = make_account()
        asker = Browser(app.test_client())
        assert asker.submit("/forgot-password", {"email": account["email"]}).status_code == 200
        link = smtp.link(account["email"], "/reset-password/")
        posts = []
        for i in range(2):
            password = f"Neues-Passwort-{n}-{i}-Reset"
            posts.append(_prepared_form(Browser(app.test_client()), link,
                                        {"password": password, "password_repeat": password}))
        results = race(*posts)
        ok = [r for r in results if r.status_code == 302]
        resets = [t for t in database.tags(account["id"]) if t == "account:password:reset"]
        if len(ok) > 1:
            twice.append((n, len(ok), len(resets)))
    assert not twice, (f"in {len(twice)} of {ROUNDS} rounds one reset link changed the password twice "
                       f"(round, successes, reset events): {twice[:5]}")


@pytest.mark.parametrize("variants", [
    ("Anna.Race@Example.org", "anna.race@example.org"),
    (unicodedata.normalize("NFC", "jürgen.race@example.org"), unicodedata.normalize("NFD", "jürgen.race@example.org")),
], ids=["case", "nfc-nfd"])
def test_the_same_address_registered_twice_at_once_gives_one_account(app, smtp, database, variants):
    problems = []
    for n in range(ROUNDS):
        local, domain = variants[0].split("@")
        pair = [v.replace("@", f"{n}@") for v in variants]
        posts = [_prepared_form(Browser(app.test_client()), "/register",
                                {"email": address, "name": "", "password": PASSWORD, "password_repeat": PASSWORD})
                 for address in pair]
        results = race(*posts)
        statuses = [r.status_code for r in results]
        rows = database.rows("SELECT email FROM account WHERE lower(email) LIKE :p", p=f"%{n}@%")
        rows = [r for r in rows if unicodedata.normalize("NFC", r["email"]).startswith(
            unicodedata.normalize("NFC", local.lower()))]
        if len(rows) != 1 or any(s not in (200, 302) for s in statuses):
            problems.append((n, statuses, [r["email"] for r in rows]))
    assert not problems, problems


def test_a_confirmation_link_opened_twice_at_once_confirms_once(app, smtp, database):
    """The confirmation link 'works once: it binds the unconfirmed state' (accounts.confirm_email)."""
    twice = []
    for n in range(ROUNDS):
        address = f"bestaetigen{n}@example.org"
        register = _prepared_form(Browser(app.test_client()), "/register",
                                  {"email": address, "name": "", "password": PASSWORD, "password_repeat": PASSWORD})
        assert register().status_code == 302
        link = smtp.link(address, "/confirm-email/")
        path = "/" + link.split("/", 3)[3]
        results = race(*(lambda: app.test_client().get(path) for _ in range(2)))
        account = database.account(address)
        verified = [t for t in database.tags(account["id"]) if t == "account:email:verified"]
        if sum(r.status_code == 200 for r in results) > 1 or len(verified) > 1:
            twice.append((n, [r.status_code for r in results], len(verified)))
    assert not twice, (f"in {len(twice)} of {ROUNDS} rounds one confirmation link confirmed twice "
                       f"(round, statuses, 'email:verified' events): {twice[:5]}")
