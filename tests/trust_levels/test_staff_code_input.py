"""Staff second factor: digits other than 0-9 are a wrong code, never a server error."""

import pytest

from trust_levels.helpers import staff_password_step

# Arabic-Indic and superscript digits: str.isdigit() says yes to both.
OTHER_DIGITS = ["\u0661\u0662\u0663\u0664\u0665\u0666", "\u00b9\u00b2\u00b3\u00b9\u00b2\u00b3"]


@pytest.mark.parametrize("code", OTHER_DIGITS)
def test_staff_code_with_digits_other_than_0_to_9_is_refused_next_to_the_field(office, make_staff, new_browser,
                                                                              code):
    staff = make_staff(office["id"])
    browser = new_browser()
    assert staff_password_step(browser, staff.email).headers["Location"].endswith("/staff/second-factor")
    response = browser.submit("/staff/second-factor", {"code": code}, selector="form[method=post]:not(.inline)")
    assert 400 <= response.status_code < 500
    assert browser.soup(response).select_one("#code-error")
    assert browser.get("/staff/home").status_code == 302
