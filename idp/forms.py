"""Forms of the citizen pages. Every form carries a CSRF token (Flask-WTF)."""

from functools import lru_cache

from babel import support
from flask import current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, Optional

from .passwords import MAX_LENGTH

_EMAIL = [DataRequired(_l("Please enter your e-mail address.")),
          Length(max=254, message=_l("The e-mail address is too long.")),
          Email(message=_l("Please enter a valid e-mail address."), check_deliverability=False)]


def _strip(value):
    """Pasted addresses often carry blanks around them; they are not part of the address."""
    return value.strip() if isinstance(value, str) else value


# Long enough for any acceptable password, so an overlong one is refused by the
# policy with a clear message instead of being cut.
_PASSWORD_INPUT = {"maxlength": 1024}


def _password(label, autocomplete, message=None):
    return PasswordField(label, validators=[InputRequired(message or _l("Please enter your password.")),
                                            Length(max=1024, message=_l("The password is too long."))],
                         render_kw={"autocomplete": autocomplete, **_PASSWORD_INPUT})


class Form(FlaskForm):
    """The base of every form: Flask-WTF's, with wtforms' own messages read once per language.

    Flask-WTF loads and parses wtforms' catalogue again on every request that builds a form (it
    keeps it on the request): 1.3 % of a sign-in's CPU. The catalogue does not change while the
    process runs.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            """The fields of the submitted form, and nothing else.

            Flask-WTF also takes a JSON body as the form (any JSON: a list, a number or deep nesting
            failed with a 500, and so did ``{"email": 123}``) and puts uploaded files among the
            fields (a file where an e-mail address belongs failed in a validator). No page here
            takes either; such a request now finds its fields empty and is told so.
            """
            if formdata is None or hasattr(formdata, "getlist"):
                return formdata  # given by the caller
            # Flask-WTF's "from the request" (its default, a sentinel)
            return (request.form or None) if form.is_submitted() else None

        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return _wtforms_catalogue(str(get_locale()))


@lru_cache(maxsize=None)  # one per supported language
def _wtforms_catalogue(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class SignInForm(Form):
    email = EmailField(_l("E-mail address"), validators=_EMAIL, filters=[_strip],
                       render_kw={"autocomplete": "username", "spellcheck": "false"})
    password = _password(_l("Password"), "current-password")
    next = HiddenField()


class SecondFactorForm(Form):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(_l("Please enter the code.")), Length(max=20, message=_l("The code is too long."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "spellcheck": "false",
                   "autocapitalize": "off"},
    )


class RegisterForm(Form):
    email = EmailField(_l("E-mail address"), validators=_EMAIL, filters=[_strip],
                       render_kw={"autocomplete": "email", "spellcheck": "false"})
    name = StringField(_l("Name (optional)"), validators=[Optional(), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    password = _password(_l("Password"), "new-password", _l("Please choose a password."))
    password_repeat = PasswordField(
        _l("Repeat password"),
        validators=[InputRequired(_l("Please repeat the password.")),
                    EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password", **_PASSWORD_INPUT},
    )


class EmailOnlyForm(Form):
    email = EmailField(_l("E-mail address"), validators=_EMAIL, filters=[_strip],
                       render_kw={"autocomplete": "email", "spellcheck": "false"})


class NewPasswordForm(Form):
    password = _password(_l("New password"), "new-password", _l("Please choose a password."))
    password_repeat = PasswordField(
        _l("Repeat new password"),
        validators=[InputRequired(_l("Please repeat the password.")),
                    EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password", **_PASSWORD_INPUT},
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = _password(_l("Current password"), "current-password")


class ChangeEmailForm(Form):
    new_email = EmailField(_l("New e-mail address"), validators=_EMAIL, filters=[_strip],
                           render_kw={"autocomplete": "email", "spellcheck": "false"})
    current_password = _password(_l("Current password"), "current-password")


class ProfileForm(Form):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)], render_kw={"autocomplete": "name"})
    given_name = StringField(_l("Given name"), validators=[Optional(), Length(max=100)],
                             render_kw={"autocomplete": "given-name"})
    family_name = StringField(_l("Family name"), validators=[Optional(), Length(max=100)],
                              render_kw={"autocomplete": "family-name"})
    phone_number = StringField(_l("Phone number"), validators=[Optional(), Length(max=40)],
                               render_kw={"autocomplete": "tel", "type": "tel"})
    street_address = StringField(_l("Street and house number"), validators=[Optional(), Length(max=200)],
                                 render_kw={"autocomplete": "street-address"})
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=10)],
                              render_kw={"autocomplete": "postal-code"})
    locality = StringField(_l("Town"), validators=[Optional(), Length(max=100)],
                           render_kw={"autocomplete": "address-level2"})


class TotpEnableForm(Form):
    code = StringField(_l("Code from your authenticator app"),
                       validators=[DataRequired(_l("Please enter the code.")), Length(max=10)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "pattern": "[0-9 ]*"})
    # Asked for only when the sign-in is older than a few minutes (the view decides).
    current_password = PasswordField(_l("Current password"),
                                     validators=[Optional(), Length(max=1024, message=_l("The password is too long."))],
                                     render_kw={"autocomplete": "current-password", **_PASSWORD_INPUT})


class PasswordConfirmForm(Form):
    current_password = _password(_l("Current password"), "current-password")


class DeleteAccountForm(Form):
    current_password = _password(_l("Current password"), "current-password")
    confirm = BooleanField(_l("Yes, delete my Bürgerkonto and all its data for good."),
                           validators=[DataRequired(_l("Please confirm the deletion."))])


class EmptyForm(Form):
    """A button only; the form exists for its CSRF token."""
