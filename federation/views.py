"""Federation pages: start and callback of the upstream sign-in, first-sign-in choice, link, unlink, logout."""

from flask import (Blueprint, abort, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import get_locale, gettext as _
from sqlalchemy.exc import IntegrityError

from ..idp import accounts, auth, events
from ..idp.extensions import csrf, db
from ..idp.web import continue_to, safe_next
from . import client, discovery, service, settings as upstream_settings, tokens
from .forms import ConfirmForm, LinkForm, UnlinkForm
from .models import FederatedSession
from .settings import by_name

bp = Blueprint("federation", __name__, url_prefix="/federation", template_folder="templates")

LOGOUT_OFFER_KEY = "federation_logout_offer"
LOGOUT_STATE_KEY = "federation_logout_state"


def _settings():
    try:
        return upstream_settings.require()
    except upstream_settings.NotConfigured:
        abort(404)


def _unavailable(exc: discovery.UpstreamUnavailable, next_path: str | None = None):
    """The upstream did not answer: say so, and point to the local sign-in (which still works)."""
    db.session.rollback()
    service.unavailable(exc)
    db.session.commit()
    return render_template("federation/unavailable.html", next=next_path or "/account",
                           timeout=exc.reason == "timeout"), 503


def _refused(exc: service.Refused):
    # Nothing but the discovery cache has changed by now (a refused sign-in creates nothing);
    # keeping the cache keeps the refetch rate limit honest.
    service.refuse(exc)
    db.session.commit()
    status = {"cancelled": 401, "error": 502, "state": 400}.get(exc.kind, 400)
    return render_template("federation/refused.html", kind=exc.kind), status


@bp.route("/start")
def start():
    """Send the browser to the upstream's authorization endpoint."""
    settings = _settings()
    next_path = safe_next(request.args.get("next"))
    try:
        url = service.begin(settings, next_path, str(get_locale()))
    except discovery.UpstreamUnavailable as exc:
        return _unavailable(exc, next_path)
    db.session.commit()
    return redirect(url)


@bp.route("/callback")
def callback():
    """The upstream's authorization response: validate everything, then sign in or ask."""
    settings = _settings()
    try:
        result, next_path = service.complete(settings, request.args)
    except service.Refused as exc:
        return _refused(exc)
    except discovery.UpstreamUnavailable as exc:
        return _unavailable(exc)
    identity = service.find_identity(result.issuer, result.subject)
    if identity is not None:
        service.sign_in(identity, result)
        db.session.commit()
        return continue_to(next_path)  # a portal's request: answered here, the code goes straight to it
    service.hold_pending(result, next_path)
    db.session.commit()
    return redirect(url_for("federation.first_sign_in"))


@bp.route("/new", methods=["GET", "POST"])
def first_sign_in():
    """First sign-in with an upstream identity: create a new Bürgerkonto, or link an existing one."""
    result, next_path, _at = service.pending()
    if result is None:
        return _start_again()
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            identity = service.create_account(result, str(get_locale()))
        except IntegrityError:
            db.session.rollback()
            flash(_("This identity was linked in the meantime. Please sign in again."), "info")
            return redirect(url_for("auth.sign_in"))
        service.drop_pending()
        service.sign_in(identity, result)
        db.session.commit()
        if identity.account.email is None:
            flash(by_name(
                _("Your Bürgerkonto was created. The e-mail address from %(name)s was not taken over."),
                _("Your Bürgerkonto was created. The e-mail address of the service account was not taken over.")),
                "info")
        else:
            flash(_("Your Bürgerkonto was created."), "success")
        return redirect(next_path)
    return render_template("federation/first_sign_in.html", form=form, result=result,
                           email=service.proposed_email(result),
                           name=_display_name(result)), 400 if form.errors else 200


def _start_again():
    """The upstream sign-in being decided is gone (expired, or decided in another tab): start over."""
    flash(by_name(_("Please sign in with %(name)s again."), _("Please sign in with the service account again.")),
          "info")
    return redirect(url_for("auth.sign_in"))


def _display_name(result) -> str:
    claims = result.claims
    return claims.get("name") or " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)


@bp.route("/link", methods=["GET", "POST"])
def link():
    """Link the pending upstream identity to the signed-in Bürgerkonto.

    The citizen must have signed in to the Bürgerkonto after the upstream
    sign-in, or confirm with the password now: never linked by e-mail address.
    """
    result, next_path, at = service.pending()
    if result is None:
        return _start_again()
    account = auth.current_account()
    if account is None:
        return redirect(url_for("auth.sign_in", next=url_for("federation.link")))
    record = auth.current_record()
    fresh = service.signed_in_since(record, at)
    form = LinkForm()
    if form.validate_on_submit():
        if not fresh:
            if not form.current_password.data:
                form.current_password.errors.append(_("Please enter your password."))
            else:
                try:
                    accounts.verify_current_password(account, form.current_password.data, request.remote_addr)
                    fresh = True
                except accounts.WrongPassword:
                    db.session.commit()
                    form.current_password.errors.append(_("The password is wrong."))
        if fresh:
            try:
                identity = service.link(account, result)
            except (service.AlreadyLinked, IntegrityError):
                db.session.rollback()
                service.drop_pending()
                db.session.commit()
                flash(by_name(_("This Bürgerkonto or this identity of %(name)s is linked already."),
                              _("This Bürgerkonto or this service account identity is linked already.")), "error")
                return redirect(url_for("account.overview"))
            service.drop_pending()
            service.sign_in(identity, result)
            db.session.commit()
            flash(by_name(_("%(name)s is now linked to your Bürgerkonto."),
                          _("Your service account is now linked to your Bürgerkonto.")), "success")
            return redirect(next_path if next_path != "/account" else url_for("account.overview"))
    return render_template("federation/link.html", form=form, account=account, fresh=fresh,
                           name=_display_name(result)), 400 if form.errors else 200


@bp.route("/unlink", methods=["POST"])
@auth.login_required
def unlink():
    account = auth.current_account()
    form = UnlinkForm()
    if form.validate_on_submit():
        try:
            service.unlink(account, int(form.identity.data or 0), form.current_password.data, request.remote_addr)
        except (LookupError, ValueError):
            abort(404)
        except service.NoOtherWayIn:
            db.session.commit()
            flash(_("The link cannot be removed: your Bürgerkonto would have no way to sign in. "
                    "Set a password first (\"Forgot your password?\" on the sign-in page)."), "error")
            return redirect(url_for("account.overview"))
        except accounts.WrongPassword:
            db.session.commit()
            form.current_password.errors.append(_("The password is wrong."))
        else:
            db.session.commit()
            flash(by_name(_("%(name)s is no longer linked."), _("The service account is no longer linked.")),
                  "success")
            return redirect(url_for("account.overview"))
    return render_template("federation/unlink_failed.html", form=form), 400


@bp.route("/sign-out-upstream", methods=["POST"])
def sign_out_upstream():
    """After signing out here: also end the session at the upstream (RP-initiated logout there)."""
    settings = _settings()
    form = ConfirmForm()
    offer = session.pop(LOGOUT_OFFER_KEY, None)
    federated = db.session.get(FederatedSession, offer) if isinstance(offer, int) else None
    if not form.validate_on_submit() or federated is None:
        return redirect(url_for("auth.sign_in"))
    try:
        metadata = discovery.metadata(settings)
    except discovery.UpstreamUnavailable as exc:
        return _unavailable(exc)
    state = client.new_flow_secrets()["state"]
    url = client.end_session_url(metadata, settings, service.id_token_for(federated), state)
    if url is None:
        return redirect(url_for("auth.sign_in"))
    session[LOGOUT_STATE_KEY] = state
    db.session.commit()
    return redirect(url)


@bp.route("/signed-out")
def signed_out():
    """Where the upstream sends the browser back after its logout."""
    expected = session.pop(LOGOUT_STATE_KEY, None)
    if expected and request.args.get("state") == expected:
        flash(by_name(_("You are also signed out of %(name)s."), _("You are also signed out of the service account.")),
              "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/backchannel-logout", methods=["POST"])
@csrf.exempt
def backchannel_logout():
    """OpenID Connect Back-Channel Logout 1.0: the upstream ends a session; ours end with it."""
    headers = {"Cache-Control": "no-store"}
    settings = upstream_settings.current()
    if settings is None or not settings.client_id:
        return {"error": "invalid_request", "error_description": "no upstream configured"}, 400, headers
    logout_token = request.form.get("logout_token")
    if not logout_token:
        return {"error": "invalid_request", "error_description": "logout_token missing"}, 400, headers
    try:
        claims = tokens.validate_logout_token(settings, logout_token)
        service.accept_logout_token_once(settings, claims)
    except tokens.TokenRejected as exc:
        events.record("federation:logout_token:invalid", None, reason=exc.reason)
        db.session.commit()
        return {"error": "invalid_request", "error_description": "logout_token invalid"}, 400, headers
    except discovery.UpstreamUnavailable as exc:
        db.session.rollback()
        service.unavailable(exc)
        db.session.commit()
        return {"error": "temporarily_unavailable"}, 503, headers
    ended = service.upstream_logout(settings, claims)
    auth.commit_and_notify(ended)
    return "", 200, headers
