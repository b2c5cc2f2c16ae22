"""Sign-in, second factor, registration, e-mail confirmation, password reset, sign-out."""

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, gettext as _

from . import accounts, auth
from .extensions import db, limiter
from .forms import EmailOnlyForm, EmptyForm, NewPasswordForm, RegisterForm, SecondFactorForm, SignInForm
from .models import Account
from .web import continue_to, safe_next

bp = Blueprint("auth", __name__)

# How long a correct password waits for its second factor.
_SECOND_FACTOR_WINDOW = 300


def _render_form(template, form, status=None, **context):
    """Render a form page; a submitted form with errors answers 400 (422 is less understood)."""
    if status is None:
        status = 400 if form.errors else 200
    return render_template(template, form=form, **context), status


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
        if request.args.get("login_hint") and not form.email.data:
            form.email.data = request.args.get("login_hint")[:254]
    if form.validate_on_submit():
        account = accounts.authenticate(form.email.data, form.password.data, request.remote_addr)
        if account is None:
            db.session.commit()
            form.password.errors.append(_("E-mail address or password is wrong."))
            return _render_form("auth/sign_in.html", form, status=401)
        target = safe_next(form.next.data)
        if not account.email_verified:
            db.session.commit()
            return render_template("auth/unconfirmed.html", email=account.email, form=EmptyForm()), 403
        if account.totp_enabled:
            session["pending_second_factor"] = {
                "account_id": account.id,
                "at": _now(),
                "next": target,
                "amr": [auth.AMR_PASSWORD],
            }
            db.session.commit()
            return redirect(url_for("auth.second_factor"))
        auth.sign_in(account, [auth.AMR_PASSWORD])
        db.session.commit()
        return continue_to(target)
    return _render_form("auth/sign_in.html", form)


def _now() -> int:
    return int(time.time())


def _pending():
    pending = session.get("pending_second_factor")
    if not pending or _now() - pending.get("at", 0) > _SECOND_FACTOR_WINDOW:
        return None, None
    account = db.session.get(Account, pending["account_id"])
    return pending, account


@bp.route("/sign-in/second-factor", methods=["GET", "POST"])
def second_factor():
    """The second step: a TOTP or recovery code, after the password (or as a step-up)."""
    pending, account = _pending()
    step_up = False
    if account is None:
        account = auth.current_account()
        step_up = account is not None and account.totp_enabled
        if not step_up:
            flash(_("Please sign in again."), "info")
            return redirect(url_for("auth.sign_in"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        method = accounts.check_second_factor(account, form.code.data, request.remote_addr)
        if method is None:
            db.session.commit()
            form.code.errors.append(_("The code is not valid. Please try again."))
            return _render_form("auth/second_factor.html", form, status=401)
        if step_up:
            auth.add_factor(auth.current_record(), method)
            target = safe_next(request.args.get("next"))
        else:
            auth.sign_in(account, pending["amr"] + [method])
            target = pending["next"]
        db.session.commit()
        return continue_to(target)
    return _render_form("auth/second_factor.html", form)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            result = accounts.register(form.email.data, form.password.data, form.name.data,
                                       str(get_locale()))
        except accounts.InvalidEmail:
            form.email.errors.append(_("Please enter a valid e-mail address."))
        except accounts.PasswordRejected as exc:
            form.password.errors.extend(str(p) for p in exc.problems)
        else:
            db.session.commit()
            session["registered_email"] = result.email
            return redirect(url_for("auth.registered"))
    return _render_form("auth/register.html", form)


@bp.route("/register/sent")
def registered():
    return render_template("auth/registered.html", email=session.get("registered_email"))


@bp.route("/confirm-email/<token>")
def confirm_email(token):
    try:
        accounts.confirm_email(token)
    except accounts.LinkExpired:
        return render_template("auth/link_problem.html", expired=True, form=EmailOnlyForm()), 410
    except accounts.LinkInvalid:
        return render_template("auth/link_problem.html", expired=False, form=EmailOnlyForm()), 400
    db.session.commit()
    return render_template("auth/email_confirmed.html")


@bp.route("/confirm-email/resend", methods=["POST"])
@limiter.limit("10 per hour")
def resend_confirmation():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.resend_confirmation(form.email.data)
        db.session.commit()
        return render_template("auth/registered.html", email=None, resent=True)
    return _render_form("auth/link_problem.html", form, expired=False)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data, str(get_locale()))
        db.session.commit()
        return render_template("auth/reset_sent.html")
    return _render_form("auth/forgot_password.html", form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    try:
        account = accounts.account_for_reset(token)
    except accounts.LinkExpired:
        return render_template("auth/link_problem.html", expired=True, reset=True), 410
    except accounts.LinkInvalid:
        return render_template("auth/link_problem.html", expired=False, reset=True), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            _account, ended = accounts.reset_password(token, form.password.data)
        except accounts.PasswordRejected as exc:
            form.password.errors.extend(str(p) for p in exc.problems)
        else:
            auth.commit_and_notify(ended)
            auth.sign_out()
            db.session.commit()
            flash(_("Your password was changed. Please sign in."), "success")
            return redirect(url_for("auth.sign_in"))
    return _render_form("auth/reset_password.html", form, email=account.email)


@bp.route("/sign-out", methods=["GET", "POST"])
def sign_out():
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        record = auth.sign_out()
        auth.commit_and_notify([record] if record and record.account_id else [])
        flash(_("You are signed out."), "success")
        return redirect(url_for("auth.sign_in"))
    if auth.current_account() is None:
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/sign_out.html", form=form)


@bp.route("/")
def index():
    if auth.current_account() is not None:
        return redirect(url_for("account.overview"))
    return render_template("index.html", issuer=current_app.config["ISSUER"])
