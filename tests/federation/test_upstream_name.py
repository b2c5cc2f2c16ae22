"""The upstream's name the operator configures (``UPSTREAM_NAME``, ``upstream configure --name``) is what
citizens read: "Sign in with Servicekonto Niedersachsen", "Servicekonto Niedersachsen cannot be reached at
the moment."; without one, the pages keep speaking of the service account of the Land.

German texts are asserted exactly only for the fallback; with a name, German pages are asserted to carry it.
"""

import json

import pytest

from support.a11y import check_page
from support.browser import Browser
from support.plugin import sign_in
from support.servers import free_port

NAME = "Servicekonto Niedersachsen"
HIGH = "http://eidas.europa.eu/LoA/high"
named = pytest.mark.parametrize("upstream_name", [NAME])


def _unavailable_page(make_app, lang: str):
    app = make_app(UPSTREAM_ISSUER=f"http://127.0.0.1:{free_port()}")  # nobody answers there
    browser = Browser(app.test_client())
    browser.get(f"/sign-in?lang={lang}")
    return check_page(browser.get("/federation/start"), 503)


def _page_text(response) -> str:
    return Browser.soup(response).body.get_text(" ", strip=True)


def _names_the_upstream(response, *texts: str) -> None:
    """The page says ``texts`` and nowhere speaks of "the service account" instead of the name."""
    text = _page_text(response)
    for expected in texts:
        assert expected in text, text
    assert "service account" not in text.lower(), text


@named
@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_sign_in_page_and_the_unavailable_page_say_the_configured_name(browser, make_app, lang):
    button = check_page(browser.get(f"/sign-in?lang={lang}"), 200).select_one("#federation-sign-in")
    unavailable = _unavailable_page(make_app, lang)
    heading = unavailable.h1.get_text(" ", strip=True)
    assert NAME in button.get_text(strip=True)
    assert NAME in heading and NAME in unavailable.title.get_text()
    expected = {"en": (f"Sign in with {NAME}", f"{NAME} is not reachable", f"{NAME} cannot be reached at the moment."),
                "de": (f"Mit {NAME} anmelden", f"{NAME} ist nicht erreichbar", f"{NAME} ist derzeit nicht erreichbar.")}
    label, title, sentence = expected[lang]
    assert button.get_text(strip=True) == label
    assert heading == title
    assert sentence in unavailable.main.get_text(" ", strip=True)


@named
def test_the_page_for_an_upstream_answering_too_late_says_the_name(browser, upstream):
    browser.get("/sign-in?lang=en")
    upstream.admin("delay", ms=4000)  # longer than UPSTREAM_TIMEOUT
    _names_the_upstream(browser.get("/federation/start"), f"{NAME} did not answer in time.")


@pytest.mark.parametrize("upstream_name", [None, "  "], ids=["no-name", "blank-name"])
@pytest.mark.parametrize(("lang", "button", "heading", "sentence"), [
    ("de", "Mit dem Servicekonto des Landes anmelden", "Das Servicekonto ist nicht erreichbar",
     "Das Servicekonto des Landes ist derzeit nicht erreichbar."),
    ("en", "Sign in with the service account of the Land", "The service account is not reachable",
     "The service account of the Land cannot be reached at the moment."),
])
def test_without_a_name_the_pages_speak_of_the_service_account_of_the_land(browser, make_app, lang, button,
                                                                           heading, sentence):
    sign_in_page = check_page(browser.get(f"/sign-in?lang={lang}"), 200)
    assert sign_in_page.select_one("#federation-sign-in").get_text(strip=True) == button
    unavailable = _unavailable_page(make_app, lang)
    assert unavailable.h1.get_text(" ", strip=True) == heading
    assert sentence in unavailable.main.get_text(" ", strip=True)


@named
def test_first_sign_in_and_refusal_name_the_upstream(browser, federated):
    browser.get("/sign-in?lang=en")
    _names_the_upstream(federated("erika", abort=True), f"The sign-in at {NAME} was cancelled.")
    federated("lena")  # the upstream did not confirm her address
    check_page(browser.get("/federation/new"), 200)
    _names_the_upstream(browser.last, f"First sign-in with {NAME}",
                        f"{NAME} confirmed your sign-in.", f"These details from {NAME} will be used:",
                        f"none ({NAME} did not confirm one, or it is in use)", f"to link it with {NAME}.")


@named
def test_linking_unlinking_and_the_step_up_page_name_the_upstream(app, browser, federated, make_account, portal):
    account = make_account()
    browser.get("/sign-in?lang=en")
    federated("lena")
    sign_in(browser, account["email"], account["password"], next_url="/federation/link")
    link_page = check_page(browser.get("/federation/link"), 200)
    assert link_page.h1.get_text(strip=True) == f"Link {NAME}"
    _names_the_upstream(browser.last, f"Link the identity Lena Schulz of {NAME} with the Bürgerkonto")
    linked = browser.follow(browser.submit("/federation/link", {}))
    _names_the_upstream(linked, f"{NAME} is now linked to your Bürgerkonto.")
    section = Browser.soup(linked).find("section", attrs={"aria-labelledby": "federation-account-h"})
    assert section.h2.get_text(strip=True) == NAME

    wrong = browser.submit("/account", {"current_password": "wrong-password"},
                           selector="form[action='/federation/unlink']")
    assert check_page(wrong, 400).h1.get_text(strip=True) == f"Remove the link to {NAME}"
    unlinked = browser.follow(browser.submit("/account", {"current_password": account["password"]},
                                             selector="form[action='/federation/unlink']"))
    _names_the_upstream(unlinked, f"{NAME} is no longer linked.", f"Not linked. Link {NAME} to sign in with it")
    assert Browser.soup(unlinked).select_one("section[aria-labelledby=federation-account-h] a.button").get_text(
        strip=True) == f"Link {NAME}"

    step_up = portal.authorize("openid", claims=json.dumps({"id_token": {"acr": {"essential": True,
                                                                                 "values": [HIGH]}}}))
    assert Browser.soup(step_up).select_one("#step-up-state-account a").get_text(strip=True) == f"Sign in with {NAME}"


@named
def test_an_upstream_only_account_and_signing_out_name_the_upstream(browser, federated, citizen_upstream):
    browser.get("/sign-in?lang=en")
    federated("erika")
    created = browser.follow(browser.submit("/federation/new", {}, selector="form[action='/federation/new']"))
    _names_the_upstream(created, f"You sign in only with {NAME}. To remove the link, first set a password")

    browser.post("/sign-out", data={"csrf_token": browser.csrf_token("/sign-out")})
    page = browser.get("/sign-in")
    _names_the_upstream(page, f"You signed in with {NAME}. You may still be signed in there.",
                        f"Also sign out of {NAME}")
    to_upstream = browser.submit_page(page, {}, selector="form[action='/federation/sign-out-upstream']")
    browser.get(citizen_upstream.follow_logout(to_upstream.headers["Location"]))
    _names_the_upstream(browser.get("/sign-in"), f"You are also signed out of {NAME}.")

    _names_the_upstream(browser.follow(browser.get("/federation/new")), f"Please sign in with {NAME} again.")


def test_a_name_configured_with_the_cli_is_shown(make_app, upstream):
    app = make_app(UPSTREAM_ISSUER=None, UPSTREAM_CLIENT_ID=None, UPSTREAM_CLIENT_SECRET=None)
    runner = app.test_cli_runner()
    configured = runner.invoke(args=["upstream", "configure", "--issuer", upstream.issuer, "--client-id", "bk",
                                     "--client-secret", "s" * 32, "--name", "BundID"])
    assert configured.exit_code == 0, configured.output
    assert json.loads(runner.invoke(args=["upstream", "show", "--json"]).output)["name"] == "BundID"
    button = Browser(app.test_client()).get("/sign-in?lang=en")
    assert Browser.soup(button).select_one("#federation-sign-in").get_text(strip=True) == "Sign in with BundID"
