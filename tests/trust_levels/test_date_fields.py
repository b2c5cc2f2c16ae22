"""Dates are typed as printed on German ID documents, 12.08.1964, by the citizen and at the counter: a text
field with that format as its hint, ISO (as browsers fill in a birthday) accepted too, and any other input
answered with the format to use."""

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from trust_levels.helpers import FORM, PERSON, document, look_up, request_check

from buergerkonto.trust_levels.forms import (DATE_FORMAT_MESSAGE, DATE_HINT, EXPIRY_FORMAT_MESSAGE, EXPIRY_HINT,
                                             parse_date)
from buergerkonto.trust_levels.models import IdentityCheck, Verification
from support.browser import Browser


def _in(app, text, lang="de"):
    with app.test_request_context(), force_locale(lang):
        return str(text)


@pytest.mark.parametrize("typed, meant", [
    ("12.08.1964", date(1964, 8, 12)), ("1.2.2031", date(2031, 2, 1)), (" 12.08.1964 ", date(1964, 8, 12)),
    ("1964-08-12", date(1964, 8, 12)),
    ("08/12/1964", None), ("12.08.64", None), ("31.02.1964", None), ("1964-8-12", None), ("", None),
    ("12.08.1964.", None), ("١٢.٠٨.١٩٦٤", None),
])
def test_dates_read_as_day_month_year_or_iso(typed, meant):
    assert parse_date(typed) == meant


def test_citizen_types_the_date_of_birth_as_on_the_id_card(app, citizen):
    soup = Browser.soup(citizen.get("/account/identity?lang=en"))
    field = soup.select_one("input#birthdate")
    assert field["type"] == "text" and field["autocomplete"] == "bday"
    assert "birthdate-hint" in field["aria-describedby"].split()
    assert soup.select_one("#birthdate-hint").get_text(strip=True) == "For example 12.08.1964 (day.month.year)."
    soup = Browser.soup(citizen.get("/account/identity?lang=de"))
    assert soup.select_one("#birthdate-hint").get_text(strip=True) == _in(app, DATE_HINT)

    request_check(citizen, birthdate="12.08.1964")
    with app.app_context():
        assert IdentityCheck.query.one().birthdate == date(1964, 8, 12)


@pytest.mark.parametrize("typed", ["08/12/1964", "31.02.1964", "12.08.64", ""])
def test_a_date_in_another_format_is_answered_with_the_format(app, citizen, typed):
    response = citizen.submit("/account/identity", {**PERSON, "birthdate": typed}, selector=FORM)
    assert response.status_code == 400
    soup = Browser.soup(response)
    assert soup.select_one("#birthdate-error").get_text(" ", strip=True).endswith(_in(app, DATE_FORMAT_MESSAGE))
    assert soup.select_one("input#birthdate")["value"] == typed  # kept, to correct it


def test_clerk_sees_and_types_dates_as_on_the_document(app, citizen, office, make_staff):
    code = request_check(citizen)  # the helper's birthdate is ISO, as a browser's autofill gives it
    staff = make_staff(office["id"])
    check_url = look_up(staff, code).headers["Location"]
    page = Browser.soup(staff.get(check_url))
    assert page.select_one("input#birthdate")["value"] == "12.08.1964"
    expiry = page.select_one("input#document_expires_on")
    assert expiry["type"] == "text" and expiry["autocomplete"] == "off"
    # Its example lies ahead, as an expiry date does.
    assert page.select_one("#document_expires_on-hint").get_text(strip=True) == _in(app, EXPIRY_HINT)

    refused = staff.submit(check_url, document() | {"document_expires_on": "2033/05/31"},
                           selector=FORM)
    assert refused.status_code == 400
    error = Browser.soup(refused).select_one("#document_expires_on-error").get_text(" ", strip=True)
    assert error.endswith(_in(app, EXPIRY_FORMAT_MESSAGE))
    valid_until = date.today() + timedelta(days=1000)
    response = staff.submit(check_url, document() | {"document_expires_on": valid_until.strftime("%d.%m.%Y")},
                            selector=FORM)
    assert response.status_code == 200
    with app.app_context():
        assert Verification.query.one().document_expires_on == valid_until
