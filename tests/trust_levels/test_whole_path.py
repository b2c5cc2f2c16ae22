"""The whole in-person path: citizen asks for a code, staff at the counter confirm, portals get the level."""

from trust_levels.helpers import FORM, PERSON, confirm_check, look_up, request_check

from buergerkonto.idp.hooks import hooks, proofing_level
from buergerkonto.idp.models import Account
from buergerkonto.trust_levels.models import AuditEntry, Verification
from support.browser import Browser


def test_citizen_gets_code_and_qr_with_autocomplete_tokens(citizen):
    page = citizen.get("/account/identity")
    soup = Browser.soup(page)
    tokens = {el["name"]: el.get("autocomplete") for el in soup.select("form input[name]")}
    assert tokens["given_name"] == "given-name"
    assert tokens["family_name"] == "family-name"
    assert tokens["birthdate"] == "bday"
    assert tokens["street_address"] == "street-address"
    assert tokens["postal_code"] == "postal-code"
    assert tokens["locality"] == "address-level2"
    for element in soup.select("form input[name]:not([type=hidden])"):
        assert soup.select_one(f"label[for={element['id']}]") is not None
    code = request_check(citizen)
    assert len(code) == 9 and code[4] == "-"
    assert not set(code.replace("-", "")) & set("01ILO")
    page = Browser.soup(citizen.get("/account/identity"))
    assert page.select_one(".qr svg title") is not None
    overview = citizen.get("/account").get_data(as_text=True)
    assert code in overview  # the account-page section shows the waiting code


def test_the_counter_form_does_not_fill_in_the_clerks_own_data(citizen, office, make_staff):
    """The clerk types the citizen's data: their browser must not offer the clerk's own name, birthday or
    address (WCAG 1.3.5 purposes are for the user's own data); the citizen's form keeps them (above)."""
    staff = make_staff(office["id"])
    page = staff.get(look_up(staff, request_check(citizen)).headers["Location"])
    soup = Browser.soup(page)
    tokens = {name: soup.select_one(f"{FORM} [name={name}]").get("autocomplete") for name in PERSON}
    assert tokens == dict.fromkeys(PERSON, "off")


def test_check_form_errors_are_shown_next_to_fields(citizen):
    response = citizen.submit("/account/identity", {**PERSON, "birthdate": "2999-01-01", "postal_code": "12"},
                              selector=FORM)
    assert response.status_code == 400
    soup = Browser.soup(response)
    assert soup.select_one("#birthdate-error") is not None
    assert soup.select_one("#postal_code-error") is not None
    assert soup.select_one("input#postal_code")["aria-invalid"] == "true"


def test_staff_confirm_in_separate_session_raises_level(app, citizen, office, make_staff, in_app):
    code = request_check(citizen)
    staff = make_staff(office["id"])

    # Codes are found whatever the case and spacing the clerk types.
    response = look_up(staff, code.lower().replace("-", " "))
    assert response.status_code == 302
    page = staff.get(response.headers["Location"])
    assert page.status_code == 200
    soup = Browser.soup(page)
    assert soup.select_one("input#family_name")["value"] == "Mustermann"
    assert soup.select_one("input#place_of_birth")["value"] == "Berlin"

    response = staff.submit_page(page, {
        "given_name": "Erika Maria",  # the card says more than the citizen typed
        "document_type": "idcard", "document_country": "deu",
        "document_expires_on": "2031-05-31", "document_number": "L01X00T47", "compared": "y"}, selector=FORM)
    assert response.status_code == 200, response.get_data(as_text=True)[:1500]
    assert Browser.soup(response).h1.get_text(strip=True) == "Identität bestätigt"  # German by default

    with app.app_context():
        account = Account.query.filter_by(email=citizen.account["email"]).one()
        with app.test_request_context():
            assert proofing_level(account) == "substantial"
        record = Verification.query.filter_by(account_id=account.id).one()
        assert record.status == "confirmed"
        assert record.given_name == "Erika Maria"
        assert record.document_type == "idcard" and record.document_country == "DEU"
        assert record.staff_id == staff.staff["id"] and record.office_id == office["id"]
        assert "L01X00T47" not in record.document_hash and len(record.document_hash) == 64
        actions = [e.action for e in AuditEntry.query.order_by(AuditEntry.seq)]
        assert actions == ["search", "view", "correct", "confirm"]
        correct = AuditEntry.query.filter_by(action="correct").one()
        assert correct.details == {"fields": ["given_name"]}
        assert correct.account_id == account.id

    page = citizen.get("/account/identity").get_data(as_text=True)
    assert "Bürgerbüro Leer" in page
    # The code is spent: a second look-up is refused.
    again = look_up(staff, code)
    assert again.status_code == 409


def test_level_high_when_configured(app, citizen, office, make_staff):
    app.config["TRUST_LEVEL_IN_PERSON"] = "high"
    code = request_check(citizen)
    staff = make_staff(office["id"])
    assert confirm_check(staff, code).status_code == 200
    with app.test_request_context():
        account = Account.query.filter_by(email=citizen.account["email"]).one()
        assert proofing_level(account) == "high"
        assert hooks().verified_claims[0](account, None, None)[0]["verification"]["assurance_level"] == "high"


def test_citizen_withdraws_code_after_confirming(citizen, office, make_staff):
    """One click on "Withdraw this code" only asks; the code ends once the citizen confirms (no script needed)."""
    code = request_check(citizen)
    page = Browser.soup(citizen.get("/account/identity"))
    assert page.select_one("form[action$='/cancel']") is None  # nothing withdraws at one click
    link = page.select_one("a[href='/account/identity/cancel']")
    assert link.get_text(strip=True) == "Diesen Prüfcode zurückziehen"
    question = citizen.get(link["href"])
    assert question.status_code == 200 and code in Browser.soup(question).main.p.get_text()

    cancel = Browser.soup(question).select_one("main form a")
    assert cancel["href"] == "/account/identity"  # "Cancel" leads back; the code stays
    assert code in citizen.get(cancel["href"]).get_data(as_text=True)

    response = citizen.submit(link["href"], {}, selector="form[action$='/cancel']")
    assert response.status_code == 302
    staff = make_staff(office["id"])
    assert look_up(staff, code).status_code == 409


def test_withdrawal_question_without_a_code_leads_back(citizen):
    response = citizen.get("/account/identity/cancel")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/identity")


def test_staff_pages_are_structured_and_labelled(citizen, office, make_staff):
    code = request_check(citizen)
    staff = make_staff(office["id"])
    response = look_up(staff, code)
    for url in ("/staff/home", response.headers["Location"], "/staff/verifications", "/staff/audit"):
        page = staff.get(url)
        assert page.status_code == 200, url
        soup = Browser.soup(page)
        assert soup.html["lang"] == "de"
        assert len(soup.select("h1")) == 1
        assert soup.select_one("main#main") is not None
        for element in soup.select("main input:not([type=hidden]), main select, main textarea"):
            assert soup.select_one(f"label[for={element['id']}]") is not None, (url, element)
        for form in soup.select("form[method=post]"):
            assert form.select_one("input[name=csrf_token]") is not None, url
    english = Browser.soup(staff.get("/staff/home?lang=en"))
    assert english.html["lang"] == "en"
