"""The counter: staff sign-in (password + TOTP), code look-up, confirmation, records, audit log.

A looked-up check may be opened only in the session that looked it up with
its code: check ids in URLs cannot be enumerated to browse citizens' data.
"""

from flask import (Blueprint, Response, abort, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _

from ..idp import accounts, totp
from ..idp.extensions import db
from ..idp.forms import EmptyForm, NewPasswordForm
from ..idp.web import safe_next
from . import audit, service, staff_auth
from .forms import (DOCUMENT_LABELS, ConfirmForm, DecisionForm, LookupForm, RevokeForm, StaffCodeForm, StaffSignInForm,
                    document_label)
from .models import IdentityCheck, Verification
from .staff_auth import admin_required, current_staff, staff_required

bp = Blueprint("trust_staff", __name__, url_prefix="/staff", template_folder="templates")

_OPENED = "staff_opened_checks"


def _page(template, status=200, **context):
    form = context.get("form")
    if form is not None and form.errors and status == 200:
        status = 400
    return render_template(f"trust_levels/staff/{template}", staff=current_staff(), labels=labels(),
                           **context), status


def labels() -> dict:
    """Readable, translated names for the codes stored in records and the audit log."""
    return {
        "status": {"held": _("held for review"), "confirmed": _("confirmed"), "rejected": _("rejected"),
                   "revoked": _("revoked"), "superseded": _("superseded")},
        "document": {key: document_label(key) for key in DOCUMENT_LABELS},
        "action": {"search": _("look-up"), "view": _("viewed"), "correct": _("corrected"),
                   "confirm": _("confirmed"), "hold": _("held for review"), "approve": _("approved"),
                   "reject": _("rejected"), "revoke": _("revoked"), "export": _("exported")},
    }


def _refuse_citizen():
    if staff_auth.citizen_signed_in():
        return _page("citizen_refused.html", status=403)
    return None


# --- sign-in --------------------------------------------------------------------------------


@bp.route("", methods=["GET", "POST"])
def sign_in():
    refused = _refuse_citizen()
    if refused:
        return refused
    if current_staff() is not None:
        return redirect(url_for("trust_staff.home"))
    form = StaffSignInForm()
    if form.validate_on_submit():
        staff = service.authenticate_staff(form.email.data, form.password.data, request.remote_addr)
        if staff is None:
            db.session.commit()
            form.password.errors.append(_("E-mail address or password is wrong."))
            return _page("sign_in.html", status=401, form=form)
        staff_auth.start_pending(staff)
        session["staff_next"] = safe_next(request.args.get("next"), "/staff/home")
        db.session.commit()
        if not staff.totp_enabled:
            return redirect(url_for("trust_staff.totp_setup"))
        return redirect(url_for("trust_staff.second_factor"))
    return _page("sign_in.html", form=form)


@bp.route("/second-factor", methods=["GET", "POST"])
def second_factor():
    refused = _refuse_citizen()
    if refused:
        return refused
    staff = staff_auth.pending_staff()
    if staff is None or not staff.totp_enabled:
        return redirect(url_for("trust_staff.sign_in"))
    form = StaffCodeForm()
    if form.validate_on_submit():
        if not service.check_staff_code(staff, form.code.data, request.remote_addr):
            db.session.commit()
            form.code.errors.append(_("The code is not valid. Please try again."))
            return _page("second_factor.html", status=401, form=form)
        target = session.get("staff_next") or "/staff/home"
        staff_auth.sign_in(staff)
        db.session.commit()
        return redirect(safe_next(target, "/staff/home"))
    return _page("second_factor.html", form=form)


@bp.route("/totp-setup", methods=["GET", "POST"])
def totp_setup():
    """First sign-in: the authenticator app is mandatory before any staff page opens."""
    refused = _refuse_citizen()
    if refused:
        return refused
    staff = staff_auth.pending_staff()
    if staff is None or staff.totp_enabled:
        return redirect(url_for("trust_staff.sign_in"))
    secret = session.get("staff_totp_enrolment")
    if not secret:
        secret = session["staff_totp_enrolment"] = totp.new_secret()
    form = StaffCodeForm()
    if form.validate_on_submit():
        if service.enable_staff_totp(staff, secret, form.code.data, request.remote_addr):
            staff_auth.sign_in(staff)
            db.session.commit()
            flash(_("Your authenticator app is set up. You are signed in."), "success")
            return redirect(url_for("trust_staff.home"))
        db.session.commit()
        form.code.errors.append(_("The code does not match. Check the time on your device and try again."))
    uri = totp.provisioning_uri(secret, f"Bürgerbüro: {staff.email}")
    return _page("totp_setup.html", form=form, secret=secret,
                 qr=totp.qr_svg(uri, _("QR code for your authenticator app")))


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token):
    """The one-time link from ``buergerkonto staff create``: choose a password."""
    refused = _refuse_citizen()
    if refused:
        return refused
    try:
        staff = service.staff_for_setup(token)
    except service.TrustError as exc:
        return _page("message.html", status=410 if isinstance(exc, service.LinkExpired) else 400,
                     title=_("Set-up link"), message=exc.message)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            service.complete_setup(token, form.password.data)
        except accounts.PasswordRejected as exc:
            form.password.errors.extend(str(p) for p in exc.problems)
        else:
            db.session.commit()
            flash(_("Your password is set. Sign in now; you will set up your authenticator app next."), "success")
            return redirect(url_for("trust_staff.sign_in"))
    return _page("setup.html", form=form, email=staff.email)


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    form = EmptyForm()
    if form.validate_on_submit() and current_staff() is not None:
        staff_auth.sign_out()
        db.session.commit()
        flash(_("You are signed out."), "success")
    return redirect(url_for("trust_staff.sign_in"))


# --- the counter ----------------------------------------------------------------------------


@bp.route("/home", methods=["GET", "POST"])
@staff_required
def home():
    staff = current_staff()
    form = LookupForm()
    if form.validate_on_submit():
        try:
            check = service.find_check(staff, form.check_code.data, request.remote_addr)
        except service.TrustError as exc:
            db.session.commit()  # the search stays in the audit log and the throttle counts
            form.check_code.errors.append(str(exc.message))
            return _page("home.html", status=404 if isinstance(exc, service.CodeUnknown) else 409,
                         form=form, held=_held(staff))
        opened = [i for i in session.get(_OPENED, []) if isinstance(i, int)][-20:]
        session[_OPENED] = opened + [check.id]
        db.session.commit()
        return redirect(url_for("trust_staff.check", check_id=check.id))
    return _page("home.html", form=form, held=_held(staff))


def _held(staff):
    if not staff.is_admin:
        return []
    return Verification.query.filter_by(office_id=staff.office_id, status="held").order_by(Verification.id).all()


def _opened_check(check_id: int) -> IdentityCheck:
    if check_id not in session.get(_OPENED, []):
        abort(404)
    check = db.session.get(IdentityCheck, check_id)
    if check is None:
        abort(404)
    return check


def _confirm_form(check: IdentityCheck) -> ConfirmForm:
    if request.method == "POST":
        return ConfirmForm()
    return ConfirmForm(data={field: getattr(check, field) for field in service.PERSON_FIELDS}
                       | {"document_country": "DEU"})


@bp.route("/checks/<int:check_id>", methods=["GET", "POST"])
@staff_required
def check(check_id):
    staff = current_staff()
    check = _opened_check(check_id)
    form = _confirm_form(check)
    if request.method == "GET":
        try:
            service.view_check(staff, check)
        except service.TrustError as exc:
            db.session.commit()
            return _page("message.html", status=403, title=_("Not possible"), message=exc.message)
        db.session.commit()
        return _page("check.html", form=form, check=check)
    if form.validate_on_submit():
        person = {field: getattr(form, field).data for field in service.PERSON_FIELDS}
        document = {"type": form.document_type.data, "country": form.document_country.data.strip(),
                    "expires_on": form.document_expires_on.data, "number": form.document_number.data}
        try:
            verification = service.confirm(staff, check, person, document)
        except service.DocumentExpired as exc:
            db.session.rollback()
            form.document_expires_on.errors.append(str(exc.message))
            return _page("check.html", form=form, check=check)
        except service.OwnAccount as exc:
            db.session.commit()  # refused before any change: only its security event is written
            return _page("message.html", status=403, title=_("Not possible"), message=exc.message)
        except service.TrustError as exc:
            db.session.rollback()
            return _page("message.html", status=409, title=_("Not possible"), message=exc.message)
        db.session.commit()
        session[_OPENED] = [i for i in session.get(_OPENED, []) if i != check_id]
        if verification.status == "held":
            return _page("held.html", verification=verification)
        return _page("confirmed.html", verification=verification)
    return _page("check.html", form=form, check=check)


# --- records (office) -----------------------------------------------------------------------


@bp.route("/verifications")
@staff_required
def verifications():
    staff = current_staff()
    records = (Verification.query.filter_by(office_id=staff.office_id)
               .order_by(Verification.id.desc()).limit(200).all())
    return _page("verifications.html", records=records)


def _own_office_verification(public_id: str) -> Verification:
    verification = Verification.query.filter_by(public_id=public_id[:36]).first()
    if verification is None:
        abort(404)
    if verification.office_id != current_staff().office_id:
        abort(403)
    return verification


@bp.route("/verifications/<public_id>")
@staff_required
def verification(public_id):
    staff = current_staff()
    record = _own_office_verification(public_id)
    service.view_verification(staff, record)
    db.session.commit()
    return _verification_page(record)


def _verification_page(record: Verification, status: int = 200, revoke_form: RevokeForm | None = None,
                       decision_form: DecisionForm | None = None):
    """The record with the office-admin's forms; either one with errors makes the title say so."""
    revoke_form = RevokeForm() if revoke_form is None else revoke_form
    decision_form = DecisionForm() if decision_form is None else decision_form
    return _page("verification.html", status=status, record=record, revoke_form=revoke_form,
                 decision_form=decision_form, error_forms=[decision_form, revoke_form])


@bp.route("/verifications/<public_id>/revoke", methods=["POST"])
@admin_required
def revoke(public_id):
    staff = current_staff()
    record = _own_office_verification(public_id)
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            service.revoke(staff, record, form.reason.data)
        except service.TrustError as exc:
            db.session.rollback()
            form.reason.errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(_("The verification was revoked."), "success")
            return redirect(url_for("trust_staff.verification", public_id=public_id))
    return _record_again(staff, record, revoke_form=form)


@bp.route("/verifications/<public_id>/decide", methods=["POST"])
@admin_required
def decide(public_id):
    staff = current_staff()
    record = _own_office_verification(public_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            service.decide_held(staff, record, form.decision.data == "approve")
        except service.TrustError as exc:
            db.session.commit()  # a refusal changed nothing; its event (four-eyes) stays
            form.decision.errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(_("The decision was recorded."), "success")
            return redirect(url_for("trust_staff.verification", public_id=public_id))
    return _record_again(staff, record, decision_form=form)


def _record_again(staff, record: Verification, **forms):
    """A form with errors shows the record again, personal data and all: a view, audited as such
    (else an admin could read records through invalid forms without a trace)."""
    service.view_verification(staff, record)
    db.session.commit()
    return _verification_page(record, status=400, **forms)


# --- audit log ------------------------------------------------------------------------------


@bp.route("/audit")
@staff_required
def audit_log():
    staff = current_staff()
    return _page("audit.html", entries=service.audit_entries_for(staff))


@bp.route("/audit.csv", methods=["POST"])  # (it writes an entry: a POST, CSRF-checked, no link to follow)
@admin_required
def audit_csv():
    staff = current_staff()
    # The chain's head goes into the file (the export row's details): an archived export tells
    # ``audit verify --head`` where the chain had reached, so a later cut of its tail shows.
    audit.append(staff, "export", object_ref=f"office:{staff.office_id}", chain_head=str(audit.head()))
    db.session.commit()
    body = audit.office_csv(staff.office_id)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="audit-office-{staff.office_id}.csv"'})
