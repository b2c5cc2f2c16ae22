"""Forms of the identity check (citizen) and the counter (staff). Every form has a CSRF token."""

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import BooleanField, EmailField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Regexp, ValidationError

from ..idp.forms import Form
from .models import DOCUMENT_TYPES


def _text(label, autocomplete=None, max_length=100, message=None, **render):
    render_kw = {"spellcheck": "false", **render}
    if autocomplete:
        render_kw["autocomplete"] = autocomplete
    return StringField(label, validators=[DataRequired(message or _l("Please fill in this field.")),
                                          Length(max=max_length, message=_l("This is too long."))],
                       render_kw=render_kw)


DATE_HINT = _l("For example 12.08.1964 (day.month.year).")
DATE_FORMAT_MESSAGE = _l("Please enter the date as day.month.year, for example 12.08.1964.")
# A document's expiry lies ahead: its example too.
EXPIRY_HINT = _l("For example 31.05.2033 (day.month.year).")
EXPIRY_FORMAT_MESSAGE = _l("Please enter the date as day.month.year, for example 31.05.2033.")
# ASCII digits only: int() would read other scripts' digits too.
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", re.ASCII)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)


def parse_date(text: str) -> date | None:
    """``12.08.1964`` as printed on German documents, or ``1964-08-12`` as browsers fill it in."""
    text = text.strip()
    if match := _DAY_MONTH_YEAR.fullmatch(text):
        day, month, year = match.groups()
    elif match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # 31.02.
        return None


class DayMonthYearField(StringField):
    """A date typed as on the ID card, ``12.08.1964``: a text field, not ``<input type=date>``.

    A date input shows the browser's own locale format whatever the page's language and hint say, and
    refuses a date typed as printed on the card; a text field with one stated format reads the same
    for citizens, clerks and screen readers. Empty and unreadable input get the same message: the format.
    """

    def __init__(self, label, validators=(), autocomplete="off", hint=DATE_HINT, format_message=DATE_FORMAT_MESSAGE,
                 **kwargs):
        super().__init__(label, validators=[DataRequired(format_message), *validators], description=hint,
                         render_kw={"autocomplete": autocomplete, "spellcheck": "false"}, **kwargs)

    def process_formdata(self, valuelist):
        self.data = parse_date(valuelist[0]) if valuelist else None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]  # what was typed, to correct it
        return self.data.strftime("%d.%m.%Y") if self.data else ""


def _not_future(form, field):
    if field.data and (field.data > date.today() or field.data.year < 1900):
        raise ValidationError(_l("Please enter a real date of birth."))


# The citizen enters their own data: the browser may fill it in (WCAG 1.3.5 asks for these purposes).
OWN_DATA = {"given_name": "given-name", "family_name": "family-name", "birthdate": "bday",
            "place_of_birth": "off", "street_address": "street-address", "postal_code": "postal-code",
            "locality": "address-level2"}
# The clerk types a citizen's data: their browser must not offer the clerk's own name and address.
SOMEONE_ELSES_DATA = dict.fromkeys(OWN_DATA, "off")


def _person_fields(autocomplete: dict) -> type:
    """The data as on the ID card, the same fields for the citizen and for the counter;
    ``autocomplete`` gives each field's token (``OWN_DATA`` or ``SOMEONE_ELSES_DATA``)."""

    class PersonFields:
        given_name = _text(_l("Given names"), autocomplete["given_name"],
                           message=_l("Please enter your given names."))
        family_name = _text(_l("Family name"), autocomplete["family_name"],
                            message=_l("Please enter your family name."))
        birthdate = DayMonthYearField(_l("Date of birth"), [_not_future], autocomplete["birthdate"])
        place_of_birth = _text(_l("Place of birth"), autocomplete["place_of_birth"],
                               message=_l("Please enter your place of birth."))
        street_address = _text(_l("Street and house number"), autocomplete["street_address"], 200,
                               message=_l("Please enter your street and house number."))
        postal_code = StringField(_l("Postal code"), validators=[
            DataRequired(_l("Please enter your postal code.")),
            Regexp(r"^\s*\d{5}\s*$", message=_l("A German postal code has five digits."))],
            render_kw={"autocomplete": autocomplete["postal_code"], "inputmode": "numeric"})
        locality = _text(_l("Town"), autocomplete["locality"], message=_l("Please enter your town."))

    return PersonFields


class CheckRequestForm(_person_fields(OWN_DATA), Form):
    pass


class StaffSignInForm(Form):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(_l("Please enter your e-mail address.")),
                                                         Length(max=254)],
                       render_kw={"autocomplete": "username", "spellcheck": "false"})
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Please enter your password.")),
                                                         Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class StaffCodeForm(Form):
    code = StringField(_l("Code from your authenticator app"),
                       validators=[DataRequired(_l("Please enter the code.")), Length(max=10)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class LookupForm(Form):
    # Not named ``code``: it holds a citizen's check code, not the staff member's own one-time
    # code, so it carries no autocomplete purpose (WCAG 1.3.5 covers data about the user only).
    check_code = StringField(_l("Check code (type it or scan the QR code)"),
                       validators=[DataRequired(_l("Please enter the code.")), Length(max=20)],
                       render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})


DOCUMENT_LABELS = {"idcard": _l("Personalausweis (ID card)"), "passport": _l("Reisepass (passport)"),
                   "residence_permit": _l("Elektronischer Aufenthaltstitel (eAT)")}
# The documents' German names, which English pages keep (they are what the document says): marked as German
# there, screen readers pronounce them as German (WCAG 3.1.2).
GERMAN_NAMES = {"idcard": "Personalausweis", "passport": "Reisepass",
                "residence_permit": "Elektronischer Aufenthaltstitel (eAT)"}


def document_label(document_type: str) -> Markup:
    """The document type's name in the page's language, its German words marked ``lang="de"``."""
    label, german = escape(str(DOCUMENT_LABELS[document_type])), GERMAN_NAMES[document_type]
    return label.replace(german, Markup('<span lang="de">{}</span>').format(german))


class ConfirmForm(_person_fields(SOMEONE_ELSES_DATA), Form):
    # Radio buttons, not a <select>: an <option> holds plain text only, so its German words could not be
    # marked as German on English pages; and three choices are quicker seen than opened.
    document_type = RadioField(_l("Document type"),
                               choices=[SelectChoice(value, DOCUMENT_LABELS[value]) for value in DOCUMENT_TYPES],
                               validators=[DataRequired(_l("Please choose the document type."))])
    document_country = StringField(_l("Issuing country (three-letter code, e.g. DEU)"), default="DEU",
                                   validators=[DataRequired(_l("Please enter the issuing country.")),
                                               Regexp(r"^\s*[A-Za-z]{3}\s*$",
                                                      message=_l("Use the three-letter code, e.g. DEU."))],
                                   render_kw={"autocomplete": "off", "autocapitalize": "characters"})
    document_expires_on = DayMonthYearField(_l("Valid until"), hint=EXPIRY_HINT, format_message=EXPIRY_FORMAT_MESSAGE)
    document_number = StringField(_l("Document number"), validators=[
        DataRequired(_l("Please enter the document number.")),
        Regexp(r"^[A-Za-z0-9 \-]{5,20}$", message=_l("The document number has 5 to 20 letters and digits."))],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})
    compared = BooleanField(_l("I have compared the person, the document and the data above."),
                            validators=[DataRequired(_l("Please confirm that you compared them."))])


class RevokeForm(Form):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Please give a reason.")),
                                                     Length(min=10, max=1000,
                                                            message=_l("Please give 10 to 1000 characters."))])


class DecisionForm(Form):
    decision = SelectField(_l("Decision"), choices=[SelectChoice("", _l("Please choose")),
                                                    SelectChoice("approve", _l("Confirm the identity")),
                                                    SelectChoice("reject", _l("Reject"))],
                           validators=[DataRequired(_l("Please choose a decision."))])
