"""The shared page frame (base.html, _forms.html): error titles and the error summary."""

import pytest
from bs4 import BeautifulSoup
from flask import render_template_string
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired

from buergerkonto.idp.forms import Form
from support.a11y import check_page

SUMMARY = '{% from "_forms.html" import error_summary %}{{ error_summary(form) }}'


class _LabelledForm(Form):
    sentence = BooleanField("Yes, delete it for good.", validators=[DataRequired("Please confirm.")])
    colon = StringField("Name:", validators=[DataRequired("Please enter a name.")])
    plain = StringField("Street", validators=[DataRequired("Please enter a street.")])


def _failed_form(app):
    with app.test_request_context("/", method="POST", data={}):
        form = _LabelledForm(meta={"csrf": False})
        assert not form.validate()
        return form


def test_summary_puts_one_colon_after_labels_that_end_in_punctuation(app):
    form = _failed_form(app)
    with app.test_request_context("/"):
        html = render_template_string(SUMMARY, form=form)
    entries = [li.get_text(strip=True) for li in BeautifulSoup(html, "html.parser").select("li")]
    assert entries == ["Yes, delete it for good: Please confirm.", "Name: Please enter a name.",
                       "Street: Please enter a street."]


@pytest.mark.parametrize("lang, expected", [
    ("de", "Ja, mein Bürgerkonto und alle zugehörigen Daten endgültig löschen: Bitte bestätigen Sie die Löschung."),
    ("en", "Yes, delete my Bürgerkonto and all its data for good: Please confirm the deletion."),
])
def test_delete_page_summary_reads_as_one_sentence(signed_in, lang, expected):
    signed_in.get(f"/account?lang={lang}")
    response = signed_in.submit("/account/delete", {"current_password": signed_in.account["password"]})
    summary = check_page(response, 400).select_one(".error-summary li").get_text(strip=True)
    assert summary == expected


PAGE = '{% extends "base.html" %}{% block title %}Prüfung{% endblock %}'


def _title(app, **context) -> str:
    with app.test_request_context("/"):
        html = render_template_string(PAGE, **context)
    return BeautifulSoup(html, "html.parser").title.get_text()


def test_title_says_error_when_any_form_of_the_page_failed(app):
    failed = _failed_form(app)
    with app.test_request_context("/"):
        clean = _LabelledForm(formdata=None, meta={"csrf": False})
        assert _title(app) == "Prüfung – Bürgerkonto"
        assert _title(app, form=failed) == "Fehler: Prüfung – Bürgerkonto"
        assert _title(app, form=None, error_forms=None) == "Prüfung – Bürgerkonto"
        # A page with several forms (the staff verification page: decision and revocation) names them all.
        assert _title(app, error_forms=[clean, failed]) == "Fehler: Prüfung – Bürgerkonto"
        assert _title(app, error_forms=(failed, None)) == "Fehler: Prüfung – Bürgerkonto"
        assert _title(app, error_forms=[clean, None]) == "Prüfung – Bürgerkonto"
        assert _title(app, form=clean, error_forms=[clean]) == "Prüfung – Bürgerkonto"


def test_summary_heading_level_follows_the_page(app):
    form = _failed_form(app)
    nested = '{% from "_forms.html" import error_summary %}{{ error_summary(form, level=3) }}'
    with app.test_request_context("/"):
        default = BeautifulSoup(render_template_string(SUMMARY, form=form), "html.parser")
        under_section = BeautifulSoup(render_template_string(nested, form=form), "html.parser")
    assert default.select_one(".error-summary h2").get_text() == "Bitte korrigieren Sie Folgendes:"
    heading = under_section.select_one(".error-summary h3")
    assert heading["id"] == under_section.select_one(".error-summary")["aria-labelledby"]
    assert under_section.select_one(".error-summary h2") is None
