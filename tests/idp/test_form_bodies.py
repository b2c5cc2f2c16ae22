"""Bodies a browser's form never sends, but anyone can, sent to the pages' forms.

Flask-WTF would read a JSON body as the form's data (``wrap_formdata``), and a multipart body may
carry a file where a text field belongs. A CSRF token is no obstacle: anyone gets one with the
sign-in page (it is also accepted in the ``X-CSRFToken`` header). Each of these is a clear 4xx
(a body that is no form: 415), never a 500 with a traceback in the log, and changes nothing.
"""

import json
import logging

import pytest

FORM_PAGES = ["/sign-in", "/register", "/forgot-password"]


def _tracebacks(caplog):
    return [r for r in caplog.records if r.exc_info]


def _post_json(browser, path, raw):
    token = browser.csrf_token("/sign-in")
    return browser.client.post(path, data=raw, content_type="application/json", headers={"X-CSRFToken": token})


@pytest.mark.parametrize("path", FORM_PAGES)
@pytest.mark.parametrize("raw", ["[1, 2, 3]", '"text"', "42", "[" * 10_000 + "]" * 10_000,
                                 '{"a":' * 10_000 + "1" + "}" * 10_000],
                         ids=["array", "string", "number", "nested-arrays", "nested-objects"])
def test_a_json_body_that_is_no_object_is_a_clear_4xx(browser, database, caplog, path, raw):
    caplog.set_level(logging.ERROR)
    before = database.snapshot()
    response = _post_json(browser, path, raw)
    assert 400 <= response.status_code < 500, response.status_code
    assert not _tracebacks(caplog), _tracebacks(caplog)[0].getMessage()
    assert database.snapshot() == before


@pytest.mark.parametrize("path", FORM_PAGES)
@pytest.mark.parametrize("body", [{"email": 123, "password": "Lange-Passphrase-2026"},
                                  {"email": "a@example.org", "password": True},
                                  {"email": "a@example.org", "password": 1e300, "password_repeat": 1e300}],
                         ids=["email-number", "password-boolean", "password-float"])
def test_a_json_object_with_values_that_are_no_strings_is_a_clear_4xx(browser, database, caplog, path, body):
    if path == "/forgot-password" and isinstance(body["email"], str):
        pytest.skip("that form has no password field: the odd value is rightly ignored")
    caplog.set_level(logging.ERROR)
    before = database.snapshot()
    response = _post_json(browser, path, json.dumps(body))
    assert 400 <= response.status_code < 500, response.status_code
    assert not _tracebacks(caplog), _tracebacks(caplog)[0].getMessage()
    assert database.snapshot() == before


def test_a_json_body_on_the_signed_in_profile_form_is_refused_and_clears_nothing(signed_in, database, caplog):
    """The name is optional: read as an empty form, the request would have cleared it."""
    caplog.set_level(logging.ERROR)
    before = database.snapshot()
    response = _post_json(signed_in, "/account/profile", json.dumps({"name": 5}))
    assert response.status_code == 415
    assert "Das Formular konnte nicht gelesen werden" in response.get_data(as_text=True)
    assert not _tracebacks(caplog)
    assert database.snapshot() == before


@pytest.mark.parametrize("path", FORM_PAGES)
def test_a_file_where_a_text_field_belongs_is_a_clear_4xx(browser, database, caplog, path):
    """multipart/form-data with ``filename=`` on the e-mail field: WTForms gets a FileStorage."""
    caplog.set_level(logging.ERROR)
    before = database.snapshot()
    token = browser.csrf_token(path)
    body = (b'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode() + b"\r\n"
            b'--B\r\nContent-Disposition: form-data; name="email"; filename="x.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\na@example.org\r\n"
            b'--B\r\nContent-Disposition: form-data; name="password"\r\n\r\nLange-Passphrase-2026\r\n'
            b'--B\r\nContent-Disposition: form-data; name="password_repeat"\r\n\r\nLange-Passphrase-2026\r\n'
            b"--B--\r\n")
    response = browser.client.post(path, data=body, content_type="multipart/form-data; boundary=B")
    assert 400 <= response.status_code < 500, response.status_code
    assert not _tracebacks(caplog), _tracebacks(caplog)[0].getMessage()
    assert database.snapshot() == before
