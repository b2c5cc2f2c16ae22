"""The citizen's side: request an in-person check, see the code, see the confirmed level."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from ..idp import auth
from ..idp.extensions import db
from ..idp.forms import EmptyForm
from . import codes, service

bp = Blueprint("trust_identity", __name__, url_prefix="/account/identity", template_folder="templates")


def _status(account) -> dict:
    check = service.open_check(account)
    code = service.check_code(check) if check else None
    return {
        "verification": service.live_verification(account),
        "check": check,
        "code": codes.display(code) if code else None,
        "qr": codes.qr_svg(code, _("QR code with your check code")) if code else None,
        "held": service.held_check(account) is not None,
    }


@bp.route("", methods=["GET"])
@auth.login_required
def overview():
    account = auth.current_account()
    status = _status(account)
    form = service_form(account) if status["check"] is None else None
    return render_template("trust_levels/identity.html", form=form, **status)


def service_form(account):
    """The check form, pre-filled from the profile the citizen already keeps."""
    from .forms import CheckRequestForm

    address = account.address or {}
    return CheckRequestForm(data={"given_name": account.given_name, "family_name": account.family_name,
                                  "street_address": address.get("street_address"),
                                  "postal_code": address.get("postal_code"),
                                  "locality": address.get("locality")})


@bp.route("", methods=["POST"])
@auth.login_required
def start():
    from .forms import CheckRequestForm

    account = auth.current_account()
    form = CheckRequestForm()
    if form.validate_on_submit():
        service.start_check(account, {field: getattr(form, field).data for field in service.PERSON_FIELDS})
        db.session.commit()
        flash(_("Your code is ready. Bring it and your ID document to any Bürgerbüro within 30 days."), "success")
        return redirect(url_for("trust_identity.overview"))
    return render_template("trust_levels/identity.html", form=form,
                           verification=service.live_verification(account), check=None, code=None,
                           qr=None, held=service.held_check(account) is not None), 400


@bp.route("/cancel", methods=["GET"])
@auth.login_required
def confirm_cancel():
    """Withdrawing the code is asked once more (no script needed): one stray click must not void it."""
    check = service.open_check(auth.current_account())
    if check is None:
        return redirect(url_for("trust_identity.overview"))
    return render_template("trust_levels/identity_cancel.html", form=EmptyForm(),
                           code=codes.display(service.check_code(check)))


@bp.route("/cancel", methods=["POST"])
@auth.login_required
def cancel():
    form = EmptyForm()
    if form.validate_on_submit():
        service.cancel_check(auth.current_account())
        db.session.commit()
        flash(_("Your code is no longer valid."), "success")
    return redirect(url_for("trust_identity.overview"))


def account_section(account) -> Markup:
    """The section "Identität im Bürgerbüro bestätigen lassen" on the account page."""
    return Markup(render_template("trust_levels/_account_section.html", **_status(account)))
