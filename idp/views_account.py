"""The citizen's account page: profile, password, e-mail, two-step sign-in, sessions, data."""

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from . import accounts, auth, devices, totp
from .extensions import db
from .forms import (ChangeEmailForm, ChangePasswordForm, DeleteAccountForm, EmptyForm,
                    PasswordConfirmForm, ProfileForm, TotpEnableForm)
from .models import WebSession

bp = Blueprint("account", __name__, url_prefix="/account")
bp.add_app_template_filter(devices.describe, "device")


def _form_page(template, form, **context):
    return render_template(template, form=form, **context), 400 if form.errors else 200


def _confirmation(form_class):
    """The form of a change the citizen confirms (``accounts.confirm_identity``): with the password,
    or, for an account without one, by a recent sign-in, when the form has no password field."""
    form = form_class()
    if not auth.current_account().password_hash:
        del form.current_password
    return form


def _confirmed_by(form) -> dict:
    """What confirms the change: the arguments ``accounts.confirm_identity`` takes from the request."""
    password = form.current_password.data if "current_password" in form else None
    return {"password": password, "ip_address": request.remote_addr,
            "signed_in_at": auth.current_record().authenticated_at}


def _not_confirmed(form, error: Exception) -> None:
    """Say why next to the password field, or above the form for an account without one."""
    db.session.commit()  # a wrong password counts as a failed attempt
    if isinstance(error, accounts.WrongPassword):
        form.current_password.errors.append(_("The current password is wrong."))
    else:
        form.form_errors.append(_("To confirm it is you, please sign in again, then do this within five minutes."))


_NOT_CONFIRMED = (accounts.WrongPassword, accounts.SignInAgain)


@bp.route("")
@auth.login_required
def overview():
    account = auth.current_account()
    return render_template(
        "account/overview.html",
        account=account,
        sessions=auth.live_sessions(account.id),
        current_sid=auth.current_record().sid,
        recovery_left=totp.remaining_recovery_codes(account) if account.totp_enabled else None,
        form=EmptyForm(),
        sections=_sections(account),
    )


def _sections(account):
    """Sections that other parts add to the account page (consents, postbox, identity)."""
    from flask import current_app

    return [section(account) for section in current_app.extensions.get("buergerkonto.account_sections", [])]


@bp.route("/profile", methods=["GET", "POST"])
@auth.login_required
def profile():
    account = auth.current_account()
    address = account.address or {}
    form = ProfileForm(obj=account, data=None if request.method == "POST" else {
        "street_address": address.get("street_address"), "postal_code": address.get("postal_code"),
        "locality": address.get("locality"), "name": account.name, "given_name": account.given_name,
        "family_name": account.family_name, "phone_number": account.phone_number})
    if form.validate_on_submit():
        new_address = {k: (getattr(form, k).data or "").strip() for k in ("street_address", "postal_code", "locality")}
        new_address = {k: v for k, v in new_address.items() if v}
        if new_address:
            new_address["country"] = "DE"
        accounts.update_profile(account, name=form.name.data, given_name=form.given_name.data,
                                family_name=form.family_name.data, phone_number=form.phone_number.data,
                                address=new_address)
        db.session.commit()
        flash(_("Your profile was saved."), "success")
        return redirect(url_for("account.overview"))
    return _form_page("account/profile.html", form)


@bp.route("/password", methods=["GET", "POST"])
@auth.login_required
def change_password():
    account = auth.current_account()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ended = accounts.change_password(account, form.current_password.data, form.password.data,
                                             request.remote_addr, keep=auth.current_record())
        except accounts.WrongPassword:
            db.session.commit()  # keep the throttle's count
            form.current_password.errors.append(_("The current password is wrong."))
        except accounts.PasswordRejected as exc:
            form.password.errors.extend(str(p) for p in exc.problems)
        else:
            auth.commit_and_notify(ended)
            flash(_("Your password was changed. Your other sessions were ended."), "success")
            return redirect(url_for("account.overview"))
    return _form_page("account/password.html", form)


@bp.route("/email", methods=["GET", "POST"])
@auth.login_required
def change_email():
    account = auth.current_account()
    form = _confirmation(ChangeEmailForm)
    if form.validate_on_submit():
        try:
            new_email = accounts.request_email_change(account, new_email=form.new_email.data, **_confirmed_by(form))
        except _NOT_CONFIRMED as error:
            _not_confirmed(form, error)
        except accounts.InvalidEmail:
            form.new_email.errors.append(_("Please enter a valid e-mail address."))
        else:
            db.session.commit()
            flash(_("We sent a link to %(email)s. Your address changes once you open it.", email=new_email),
                  "success")
            return redirect(url_for("account.overview"))
    return _form_page("account/email.html", form, account=account)


@bp.route("/email/confirm/<token>")
def confirm_email_change(token):
    try:
        accounts.confirm_email_change(token)
    except accounts.LinkExpired:
        return render_template("auth/link_problem.html", expired=True, email_change=True), 410
    except accounts.LinkInvalid:
        return render_template("auth/link_problem.html", expired=False, email_change=True), 400
    db.session.commit()
    flash(_("Your new e-mail address is confirmed."), "success")
    return redirect(url_for("account.overview"))


@bp.route("/totp", methods=["GET", "POST"])
@auth.login_required
def totp_setup():
    account = auth.current_account()
    if account.totp_enabled:
        return redirect(url_for("account.overview"))
    secret = session.get("totp_enrolment")
    if not secret:
        secret = session["totp_enrolment"] = totp.new_secret()
    form = TotpEnableForm()
    confirm = _identity_confirmation_needed(auth.current_record())
    if form.validate_on_submit() and (not confirm or _identity_confirmed(account, form)):
        codes = accounts.enable_totp(account, secret, form.code.data)
        if codes is not None:
            session.pop("totp_enrolment", None)
            auth.add_factor(auth.current_record(), auth.AMR_OTP)
            db.session.commit()
            return render_template("account/recovery_codes.html", codes=codes), 200
        form.code.errors.append(_("The code does not match. Check the time on your device and try again."))
    uri = totp.provisioning_uri(secret, account.email or account.uuid)
    return _form_page("account/totp_setup.html", form, secret=secret, confirm=confirm,
                      has_password=bool(account.password_hash),
                      qr=totp.qr_svg(uri, _("QR code for your authenticator app")))


def _identity_confirmation_needed(record: WebSession) -> bool:
    """Whoever holds a session must not bind their own authenticator to the account (and take its
    recovery codes) unless they signed in just now or know the password (ASVS V7.5.1)."""
    return not accounts.signed_in_recently(record.authenticated_at)


def _identity_confirmed(account, form) -> bool:
    """The password given with the form is right; errors go next to the field (or to the summary
    for an account without a password, which must sign in again)."""
    if not account.password_hash:
        form.form_errors.append(_("Please sign in again, then switch on two-step sign-in."))
        return False
    if not form.current_password.data:
        form.current_password.errors.append(_("Please enter your password."))
        return False
    try:
        accounts.verify_current_password(account, form.current_password.data, request.remote_addr)
    except accounts.WrongPassword:
        db.session.commit()  # the failed attempt counts
        form.current_password.errors.append(_("The current password is wrong."))
        return False
    return True


@bp.route("/totp/disable", methods=["GET", "POST"])
@auth.login_required
def totp_disable():
    account = auth.current_account()
    form = _confirmation(PasswordConfirmForm)
    if form.validate_on_submit():
        try:
            accounts.disable_totp(account, **_confirmed_by(form))
        except _NOT_CONFIRMED as error:
            _not_confirmed(form, error)
        else:
            db.session.commit()
            flash(_("Two-step sign-in is switched off."), "success")
            return redirect(url_for("account.overview"))
    return _form_page("account/totp_disable.html", form)


@bp.route("/recovery-codes", methods=["GET", "POST"])
@auth.login_required
def recovery_codes():
    account = auth.current_account()
    if not account.totp_enabled:
        return redirect(url_for("account.overview"))
    form = _confirmation(PasswordConfirmForm)
    if form.validate_on_submit():
        try:
            codes = accounts.regenerate_recovery_codes(account, **_confirmed_by(form))
        except _NOT_CONFIRMED as error:
            _not_confirmed(form, error)
        else:
            db.session.commit()
            return render_template("account/recovery_codes.html", codes=codes)
    return _form_page("account/recovery_regenerate.html", form)


@bp.route("/sessions/<sid>/end", methods=["POST"])
@auth.login_required
def end_session(sid):
    form = EmptyForm()
    account = auth.current_account()
    if form.validate_on_submit():
        record = WebSession.query.filter_by(sid=sid[:64], account_id=account.id, ended_at=None).first()
        if record is not None:
            is_current = record.id == auth.current_record().id
            auth.end_session(record, "ended-by-citizen")
            if is_current:
                session.clear()
            auth.commit_and_notify([record])
            flash(_("The session was ended."), "success")
            if is_current:
                return redirect(url_for("auth.sign_in"))
    return redirect(url_for("account.overview"))


@bp.route("/sessions/end-all", methods=["POST"])
@auth.login_required
def end_all_sessions():
    form = EmptyForm()
    account = auth.current_account()
    if form.validate_on_submit():
        ended = auth.end_all_sessions(account.id, "sign-out-everywhere")
        session.clear()
        auth.commit_and_notify(ended)
        flash(_("You are signed out everywhere."), "success")
        return redirect(url_for("auth.sign_in"))
    return redirect(url_for("account.overview"))


@bp.route("/export")
@auth.login_required
def export():
    account = auth.current_account()
    body = json.dumps(accounts.export_data(account), ensure_ascii=False, indent=2, default=str)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="buergerkonto-daten.json"'})


@bp.route("/delete", methods=["GET", "POST"])
@auth.login_required
def delete():
    account = auth.current_account()
    form = _confirmation(DeleteAccountForm)
    if form.validate_on_submit():
        try:
            ended = accounts.delete_account(account, **_confirmed_by(form))
        except _NOT_CONFIRMED as error:
            _not_confirmed(form, error)
        else:
            session.clear()
            auth.commit_and_notify(ended)
            return render_template("account/deleted.html")
    return _form_page("account/delete.html", form)
