"""The basic path: a verified account signs in and sees its account page."""

from support.plugin import sign_in


def test_sign_in_and_account_page(browser, make_account):
    account = make_account()
    response = sign_in(browser, account["email"], account["password"])
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    page = browser.get("/account")
    assert page.status_code == 200
    assert account["email"] in page.get_data(as_text=True)
