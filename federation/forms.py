"""Forms of the federation pages (all with CSRF tokens, labels tied to fields)."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField
from wtforms.validators import InputRequired, Length, Optional

from ..idp.forms import Form


class ConfirmForm(Form):
    """A button that changes something: create the account, start logout upstream."""


class LinkForm(Form):
    # Asked for when the citizen was signed in before the upstream sign-in (re-authentication).
    current_password = PasswordField(_l("Password of your Bürgerkonto"),
                                     validators=[Optional(), Length(max=1024)],
                                     render_kw={"autocomplete": "current-password", "maxlength": 1024})


class UnlinkForm(Form):
    identity = HiddenField()
    current_password = PasswordField(_l("Password of your Bürgerkonto"),
                                     validators=[InputRequired(_l("Please enter your password.")),
                                                 Length(max=1024, message=_l("The password is too long."))],
                                     render_kw={"autocomplete": "current-password", "maxlength": 1024})
