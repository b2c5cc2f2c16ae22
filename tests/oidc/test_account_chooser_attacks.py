"""The account chooser (prompt=select_account) seen by an attacker, and its combinations with other
parameters. Tests that say "found by a review" failed before their fix; the others are regression tests."""

from joserfc import jwt

from support.relying_party import query_of

SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"


def _chooser(rp, browser, scope="openid", **params):
    page = browser.get(rp.authorize_url(scope, prompt="select_account", **params))
    assert page.status_code == 200 and browser.soup(page).select_one(
        "input[name=decision][value=this-account]") is not None, page.status_code
    return page


def _post_without_following(browser, page, decision):
    """Press a decision button but do not follow the redirect (tab closed, connection lost)."""
    for form in browser.soup(page).select("form[action*='/authorize/decide/']"):
        if form.select_one(f"input[name=decision][value={decision}]") is not None:
            data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
            return browser.post(form["action"], data=data)
    raise AssertionError(decision)


def _is_step_up(browser, page):
    return page.status_code == 200 and browser.soup(page).select_one(
        "input[name=decision][value=continue-lower]") is not None


# --- "another account" must not keep the first citizen's answers --------------------------------


def test_another_account_is_asked_about_the_level_itself(make_rp, browser, citizen, make_account):
    """Found by a review. Citizen A chose "continue with my current level" on the step-up page of an external
    portal and stopped at its consent page. From the chooser still open (another tab), "sign out and
    use another account": citizen B signs in, and is never shown the step-up page: A's decision is
    carried into B's request (``_sign_in_with_another_account`` copies the whole stash entry;
    ``_sign_in(force=True)`` resets level_decision/consent_decision, this path does not)."""
    rp = make_rp(name="Externes Portal", external=True)
    other = make_account()
    chooser = _chooser(rp, browser, "openid email", acr_values=SUBSTANTIAL)
    step_up = rp.decide(chooser, "this-account")
    assert _is_step_up(browser, step_up)
    consent = rp.decide(step_up, "continue-lower")
    assert rp.is_consent_page(consent)
    sign_in_page = rp.decide(chooser, "other-account")  # the chooser in the other tab
    done = browser.submit_page(sign_in_page, {"email": other["email"], "password": other["password"]})
    page = browser.follow(done)
    assert _is_step_up(browser, page), (
        "citizen B was not asked about the level: A's 'continue-lower' was applied to B's sign-in "
        f"({page.status_code}, consent page: {rp.is_consent_page(page)})")


def test_another_account_gives_its_own_consent(make_rp, browser, citizen, make_account, app):
    """Found by a review. A pressed "allow" on an external portal's consent page, but the answer's redirect was
    not followed (tab closed). From the chooser, "sign out and use another account": B signs in and
    the portal gets a code for B, B's e-mail address released and a consent recorded for B that B
    never gave (A's ``consent_decision=allow`` rode along in the stash entry)."""
    from buergerkonto.idp.oidc.models import Consent

    rp = make_rp(name="Externes Portal", external=True)
    other = make_account()
    chooser = _chooser(rp, browser, "openid email")
    consent = rp.decide(chooser, "this-account")
    assert rp.is_consent_page(consent)
    assert _post_without_following(browser, consent, "allow").status_code == 302
    sign_in_page = rp.decide(chooser, "other-account")
    done = browser.submit_page(sign_in_page, {"email": other["email"], "password": other["password"]})
    page = browser.follow(done)
    with app.app_context():
        consents_of_b = Consent.query.filter_by(account_id=other["id"], client_id=rp.client_id).count()
    assert page.status_code == 200 and rp.is_consent_page(page) and consents_of_b == 0, (
        f"B was not asked for consent: {page.status_code} {page.headers.get('Location')}, "
        f"consents recorded for B: {consents_of_b}")


def test_a_citizen_signing_in_over_another_answers_for_themselves(make_rp, browser, citizen, make_account, app):
    """The same, without the chooser: A pressed "allow" on an external portal's consent page without
    following the answer, and left the browser on a sign-in page that leads back to the request. B signs
    in there (a sign-in keeps the session's data, the remembered request with A's answer included). The
    consent was A's: B is asked."""
    from buergerkonto.idp.oidc.models import Consent

    rp = make_rp(name="Externes Portal", external=True)
    other = make_account()
    consent = rp.authorize("openid email", consent=None)
    assert rp.is_consent_page(consent)
    fp = browser.soup(consent).select_one("form[action*='/authorize/decide/']")["action"].rsplit("/", 1)[1]
    assert _post_without_following(browser, consent, "allow").status_code == 302
    done = browser.submit(f"/sign-in?next=/authorize/resume/{fp}", {"email": other["email"],
                                                                    "password": other["password"]})
    page = browser.follow(done)
    with app.app_context():
        consents_of_b = Consent.query.filter_by(account_id=other["id"], client_id=rp.client_id).count()
    assert rp.is_consent_page(page) and consents_of_b == 0, (page.status_code, page.headers.get("Location"))


# --- regression tests (pass: the attack is refused) ---------------------------------------------


def test_other_account_tells_the_portals_of_the_ended_session(make_rp, browser, citizen, receiver):
    """the back-channel logout token is actually sent, with the ended session's sid."""
    rp = make_rp(backchannel_logout_uri=receiver.url)
    first = rp.id_token(rp.tokens()["id_token"])
    chooser = _chooser(rp, browser)
    rp.decide(chooser, "other-account")
    [raw] = receiver.wait_for(1)
    claims = jwt.decode(raw, rp.jwks()).claims
    assert claims["sid"] == first["sid"] and claims["sub"] == first["sub"] and claims["aud"] == rp.client_id


def test_the_first_citizens_chooser_cannot_answer_for_the_next(rp, browser, citizen, make_account):
    """after "another account" the old chooser's form (its CSRF token) is void: it can
    neither continue with the new session nor sign it out."""
    other = make_account()
    chooser = _chooser(rp, browser)
    sign_in_page = rp.decide(chooser, "other-account")
    browser.submit_page(sign_in_page, {"email": other["email"], "password": other["password"]})
    for decision in ("this-account", "other-account"):
        assert _post_without_following(browser, chooser, decision).status_code == 400
    assert browser.get("/account").status_code == 200  # B is still signed in


def test_id_token_hint_of_the_first_citizen_refuses_another(rp, browser, citizen, make_account):
    """with an id_token_hint, choosing another account ends in login_required, never a
    code for someone the portal did not name."""
    hint = rp.tokens()["id_token"]
    other = make_account()
    chooser = _chooser(rp, browser, id_token_hint=hint)
    sign_in_page = rp.decide(chooser, "other-account")
    done = browser.submit_page(sign_in_page, {"email": other["email"], "password": other["password"]})
    result = rp.callback(browser.follow(done))
    assert result.get("error") == "login_required" and "code" not in result


def test_select_account_with_login_signs_in_once_and_shows_no_chooser(rp, browser, citizen):
    """prompt="login select_account": the new sign-in is the choice, no loop."""
    response = browser.get(rp.authorize_url(prompt="login select_account"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"],
                          {"email": citizen["email"], "password": citizen["password"]})
    assert "code" in rp.callback(browser.follow(done))


def test_select_account_with_max_age_zero_asks_once(rp, browser, citizen):
    response = browser.get(rp.authorize_url(prompt="select_account", max_age="0"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    done = browser.submit(response.headers["Location"],
                          {"email": citizen["email"], "password": citizen["password"]})
    assert "code" in rp.callback(browser.follow(done))


def test_a_decision_for_an_unknown_request_is_refused(rp, browser, citizen):
    chooser = _chooser(rp, browser)
    form = browser.soup(chooser).select_one("form")
    data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
    data["decision"] = "other-account"
    assert browser.post("/authorize/decide/" + "0" * 32, data=data).status_code == 400
    assert browser.get("/account").status_code == 200  # still signed in


def test_the_chooser_is_shown_again_for_a_new_request(rp, browser, citizen):
    """"this account" answers that request only; the portal's next one asks again."""
    first = _chooser(rp, browser)
    assert "code" in rp.callback(rp.decide(first, "this-account"))
    _chooser(rp, browser)


def test_other_account_goes_to_the_sign_in_page_only(rp, browser, citizen):
    chooser = _chooser(rp, browser)
    form = [f for f in browser.soup(chooser).select("form")
            if f.select_one("input[value=other-account]")][0]
    data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
    response = browser.post(form["action"], data=data)
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in?")
    assert query_of(response.headers["Location"])["next"].startswith("/authorize/resume/")
