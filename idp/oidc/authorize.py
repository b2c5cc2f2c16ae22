"""The authorization endpoint: everything Authlib leaves to the application (STYLE.md trap 7).

Authlib validates client, redirect URI, scope, PKCE and nonce. This view adds
the rest of OIDC Core §3.1.2: ``prompt``, ``max_age``, ``id_token_hint``,
``login_hint``, ``ui_locales``, the ``claims`` parameter, ``acr_values`` with
step-up, and consent. Every response to the portal carries ``iss`` (RFC 9207),
errors included; an error is only ever redirected to a registered URI.

A plain sign-in returns to the request itself (``/sign-in?next=/authorize?...``).
A request that needs more of the citizen (forced re-authentication, second
factor, consent, step-up) or is too long for ``next`` is remembered in the
session under a fingerprint of its parameters, and resumed from there. Either
way the finished sign-in answers the request in its own response
(``authorize_in_place``, ``resume_in_place``): the browser goes straight to the
portal with the code.
"""

import copy
import hashlib
import re
import time
from urllib.parse import urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from joserfc import jwt
from joserfc.errors import JoseError
from wtforms import ValidationError

from .. import auth, events, session_timeout
from ..extensions import csrf, db
from ..forms import EmptyForm
from ..hooks import hooks, proofing_level
from ..timeutil import epoch, utcnow
from ..upsert import insert_unless_present
from ..web import browser_get
from . import claims, consents, keys
from .models import Consent, PortalSignIn
from .server import server

bp = Blueprint("oidc_authorize", __name__, template_folder="templates")

SINGLE = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt", "max_age",
          "login_hint", "id_token_hint", "ui_locales", "claims", "acr_values", "code_challenge",
          "code_challenge_method", "response_mode", "display", "request", "request_uri", "claims_locales")
# The nonce is indexed with the portal's codes: 512 characters stay within a B-tree entry.
MAX_LENGTH = {"claims": claims.MAX_CLAIMS_PARAMETER, "id_token_hint": 4096, "nonce": 512}
DEFAULT_MAX_LENGTH = 2048
PROMPTS = {"none", "login", "consent", "select_account"}
STASH_LIMIT = 5
# Control characters other than tab and line breaks (which a form's text may hold).
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# A plain sign-in comes straight back to the authorization request (its URL as the sign-in's
# ``next``, which ``web.safe_next`` takes up to 2,000 characters); longer ones go through the stash.
MAX_DIRECT_NEXT = 1800


class AuthorizeError(Exception):
    """An error for the portal (redirected with ``iss``) or, without a safe target, a page."""

    def __init__(self, error: str, description: str | None = None):
        super().__init__(error)
        self.error = error
        self.description = description


# --- the view ---------------------------------------------------------------------------

@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # portals may POST the request (OIDC Core §3.1.2.1); citizens' decisions are checked below
def authorize():
    return _authorize(request._get_current_object())


@bp.route("/authorize/resume/<fp>")
def resume(fp):
    """Back from sign-in, second factor or a decision: replay the remembered request."""
    entry = _stash().get(fp)
    if entry is None:
        return _page(_("This sign-in request has expired. Please go back to the portal and start again."))
    return redirect(url_for("oidc_authorize.authorize") + "?" + entry["query"])


def authorize_in_place(http_request, target):
    """The authorization request a sign-in returns to, answered in the sign-in's response (``web.continue_to``).

    The answer is the redirect to the portal (its code, or an error), or to the next step (second
    factor); a page (consent, step-up, an error page) is not shown in answer to a form: the browser
    is sent to ``target`` and the page answers the GET there.
    """
    return _authorize(http_request, page_elsewhere=target)


def resume_in_place(_resume_request, target, fp):
    """The remembered request a sign-in returns to (``resume``), answered as ``authorize_in_place``
    (the GET of the resume address itself is not needed: the request replayed is the remembered one)."""
    entry = _stash().get(fp)
    if entry is None:
        return redirect(target)
    return _authorize(browser_get("/authorize", entry["query"]), page_elsewhere=target)


def _authorize(http_request, page_elsewhere=None):
    """Answer the authorization request ``http_request``; with ``page_elsewhere``, redirect there for a page."""
    values = http_request.values
    target = _safe_target(values)
    problem = _check_parameters(values)
    if problem:
        return _fail(target, "invalid_request", problem, page_elsewhere)
    account = auth.current_account()
    try:
        grant = server().get_consent_grant(request=http_request, end_user=account)
    except OAuth2Error as error:
        return _oauth_error(error, target, page_elsewhere)
    try:
        return _continue(grant, account, page_elsewhere)
    except AuthorizeError as error:
        return _fail(target, error.error, error.description, page_elsewhere)


@bp.route("/authorize/decide/<fp>", methods=["POST"])
@csrf.exempt
def decide(fp):
    """The citizen's answer on the consent or step-up page (CSRF-checked)."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        expired = session_timeout.expired_page_if_lapsed()  # idle too long on the consent or step-up page
        if expired is not None:
            return expired
        return _page(_("For your security the form could not be accepted. Please go back and try again."))
    stash = _stash()
    entry = stash.get(fp)
    decision = request.form.get("decision")
    if entry is None or decision not in ("allow", "deny", "return", "continue-lower", "this-account",
                                         "other-account"):
        return _page(_("This sign-in request has expired. Please go back to the portal and start again."))
    if decision == "other-account":
        return _sign_in_with_another_account(fp, entry)
    account = auth.current_account()
    decided_by = account.id if account else None
    if entry.get("decided_by") != decided_by:
        # Another citizen's answers to this request are not kept beside this one's (``_decisions_of``).
        for key in _DECISIONS:
            entry.pop(key, None)
    entry["decided_by"] = decided_by
    if decision == "this-account":
        entry["account_decision"] = "continue"
        session["oidc_requests"] = stash
        return redirect(url_for("oidc_authorize.resume", fp=fp))
    # Two questions, two answers: the step-up page's ("return", "continue-lower") and the consent
    # page's ("allow", "deny"). In one slot, each overwrote the other, and a portal asking for
    # both sent the citizen from one page to the other for ever.
    entry["level_decision" if decision in ("return", "continue-lower") else "consent_decision"] = decision
    if decision == "allow":
        entry["consented_at"] = int(time.time())
    session["oidc_requests"] = stash
    return redirect(url_for("oidc_authorize.resume", fp=fp))


_DECISIONS = ("consent_decision", "consented_at", "level_decision", "account_decision")


def _decisions_of(entry: dict, account) -> dict:
    """The remembered request with the decisions of ``account`` only.

    A sign-in keeps the session's data, remembered requests included: on a shared computer another
    citizen may sign in while a request waits with the first one's answers (consent given, a lower
    level accepted). Those answers are not the new citizen's.
    """
    if entry.get("decided_by") == (account.id if account else None):
        return entry
    return {key: value for key, value in entry.items() if key not in _DECISIONS}


def _sign_in_with_another_account(fp: str, entry: dict):
    """The account chooser's "another account": this sign-in ends (its portals are told, as at any
    sign-out) and the request waits for the next one, which is the choice (``login_after``).

    Only the request itself is kept: the decisions taken in this session (consent, the level, this
    account) were the first citizen's, and the next one answers for themselves."""
    record = auth.sign_out()
    now = int(time.time())
    session["oidc_requests"] = {fp: {"query": entry["query"], "at": now, "login_after": now}}
    auth.commit_and_notify([record] if record and record.account_id else [])
    return redirect(url_for("auth.sign_in", next=url_for("oidc_authorize.resume", fp=fp)))


# --- steps --------------------------------------------------------------------------------

def _continue(grant, account, page_elsewhere=None):
    req = grant.request
    data = req.payload.data
    client = req.client
    if data.get("request"):
        raise AuthorizeError("request_not_supported")
    if data.get("request_uri"):
        raise AuthorizeError("request_uri_not_supported")
    if data.get("response_mode") not in (None, "", "query"):
        raise AuthorizeError("invalid_request", "Only the 'query' response mode is supported.")
    prompts = set((data.get("prompt") or "").split())
    if not prompts <= PROMPTS:
        raise AuthorizeError("invalid_request", "Unknown 'prompt' value.")
    max_age = _max_age(data.get("max_age"))
    try:
        claims_request = claims.parse_claims_request(data.get("claims"))
    except claims.ClaimsRequestInvalid as exc:
        raise AuthorizeError("invalid_request", str(exc)) from None
    hint_sub = _hint_subject(data.get("id_token_hint"), client)
    fp = _fingerprint(data)
    entry = _decisions_of(_stash().get(fp, {}), account)
    interactive = "none" not in prompts

    # Authentication: a session, fresh enough, of the citizen the portal expects.
    record = auth.current_record()
    reauthenticated = bool(account and entry.get("login_after")
                           and epoch(record.authenticated_at) >= entry["login_after"])
    wanted_sub = hint_sub or claims.requested_sub(claims_request)
    if account is None:
        # With prompt=login the sign-in about to happen is the one asked for: remembered as such,
        # the citizen is not sent to sign in a second time when the request resumes. With
        # prompt=select_account that sign-in is the choice of account: not asked for again.
        return _sign_in(fp, data, prompts, force=bool(prompts & {"login", "select_account"}))
    stale = max_age is not None and epoch(record.authenticated_at) + max_age < time.time()
    if ("login" in prompts or stale) and not reauthenticated:
        return _sign_in(fp, data, prompts, force=True)
    if wanted_sub and wanted_sub != claims.subject_for(client, account):
        if interactive and not reauthenticated:
            return _sign_in(fp, data, prompts, force=True)
        raise AuthorizeError("login_required", "Another citizen is signed in.")
    if "select_account" in prompts and not reauthenticated and entry.get("account_decision") != "continue":
        # OIDC Core §3.1.2.1: the citizen chooses the account. A browser holds one sign-in here: this
        # account, or sign out and sign in with another (``decide``). (prompt=none with it is refused.)
        if page_elsewhere:
            return redirect(page_elsewhere)
        _remember(fp, data)
        return render_template("oidc/select_account.html", client=client, account=account, fp=fp,
                               form=EmptyForm()), 200

    # Level of assurance (acr): step up, or say how, or continue lower when only preferred.
    essential, essential_values = claims.essential_acr(claims_request)
    requested = essential_values if essential else (data.get("acr_values") or "").split() + essential_values
    levels = [claims.level_of(v) for v in requested if claims.level_of(v)]
    if essential and essential_values and not levels:
        raise AuthorizeError("unmet_authentication_requirements", "No requested 'acr' value is supported.")
    achieved = claims.achieved_level(account, record)
    if levels:
        required = min(levels, key=claims.LEVELS.index)
        if not claims.at_least(achieved, required):
            reachable = (claims.at_least(proofing_level(account), required)
                         and claims.at_least("substantial", required)
                         and account.totp_enabled and "mfa" not in (record.amr or []))
            if reachable:
                if not interactive:
                    raise AuthorizeError("interaction_required", "A second factor is needed.")
                _remember(fp, data)
                return redirect(url_for("auth.second_factor", next=url_for("oidc_authorize.resume", fp=fp)))
            if entry.get("level_decision") == "return" or (essential and not interactive):
                raise AuthorizeError("unmet_authentication_requirements")
            if essential or (interactive and entry.get("level_decision") != "continue-lower"):
                if page_elsewhere:
                    return redirect(page_elsewhere)
                return _step_up(fp, data, client, required, achieved, essential)
    acr = claims.acr_value(achieved, essential_values if essential else None)

    # Consent (``consents``): external portals for all they ask for, verified identity data
    # included; members only for offline access; prompt=consent forces it.
    scopes = (req.scope or "").split()
    covered = consents.consented_items(account.id, client.client_id)
    just_allowed = entry.get("consent_decision") == "allow"
    if entry.get("consent_decision") == "deny":
        _forget(fp)
        raise AuthorizeError("access_denied", "The citizen declined.")
    wanted = consents.items_requested(scopes, claims_request)
    missing = consents.items_needing_consent(client, wanted) - covered
    if (missing or "consent" in prompts) and not just_allowed:
        if not interactive:
            if missing == {"offline_access"}:
                scopes.remove("offline_access")  # OIDC Core §11: ignore offline access without consent
            else:
                raise AuthorizeError("consent_required")
        elif page_elsewhere:
            return redirect(page_elsewhere)
        else:
            _remember(fp, data)
            return _consent_page(fp, client, wanted)
    if just_allowed:
        _record_consent(account, client, wanted)

    return _issue(grant, account, record, scopes, acr, claims_request, fp)


def _issue(grant, account, record, scopes, acr, claims_request, fp):
    req = grant.request
    req.user = account
    req.oidc = {"scope": " ".join(scopes), "auth_time": epoch(record.authenticated_at), "acr": acr,
                "amr": claims.amr_values(record.amr), "sid": record.sid, "claims_request": claims_request}
    response = server().create_authorization_response(request=req, grant_user=account, grant=grant)
    if response.status_code == 302 and "code=" in (response.location or ""):
        _record_sign_in(account, req.client, record, scopes, acr)
        for hook in hooks().portal_sign_in:
            hook(account, req.client)
        events.record("oidc:authorize:code", account.id, client_id=req.client.client_id, sid=record.sid,
                      acr=acr)
    _forget(fp)
    db.session.commit()
    return response


# --- helpers: parameters -----------------------------------------------------------------

def _check_parameters(params) -> str | None:
    """Refuse repeated, overlong and control-character parameters before anything else."""
    for name in params:
        values = params.getlist(name)
        if name in SINGLE and len(values) > 1:
            return f"Multiple '{name}' in request."
        limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
        for value in values:
            if len(value) > limit:
                return f"'{name}' is too long." if name in SINGLE else "A parameter is too long."
            if _CONTROL_CHARACTER.search(value) or '"' in value and name in (
                    "response_type", "client_id", "redirect_uri", "scope", "prompt"):
                return f"'{name}' holds characters that are not allowed." if name in SINGLE else \
                    "A parameter holds characters that are not allowed."
    if not params.get("response_type"):
        return "Missing 'response_type'."
    return None


def _safe_target(params):
    """(redirect_uri, state) when the request names a client and one of its exact redirect URIs."""
    client_ids = params.getlist("client_id")
    uris = params.getlist("redirect_uri")
    if len(client_ids) != 1 or len(uris) != 1:
        return None
    client = server().query_client(client_ids[0])
    if client is None or not client.check_redirect_uri(uris[0]):
        return None
    states = params.getlist("state")
    state = states[0] if len(states) == 1 and len(states[0]) <= DEFAULT_MAX_LENGTH else None
    return uris[0], state


def _max_age(raw):
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise AuthorizeError("invalid_request", "'max_age' must be a number of seconds.")
    return int(raw)


def _hint_subject(hint, client):
    """The ``sub`` of a valid ``id_token_hint`` we issued to this client (expiry does not matter)."""
    if not hint:
        return None
    try:
        token = jwt.decode(hint, keys.hint_key_set(), algorithms=["ES256", "RS256"])
    except (JoseError, ValueError):
        raise AuthorizeError("invalid_request", "The 'id_token_hint' is not valid.") from None
    values = token.claims
    aud = values.get("aud")
    if values.get("iss") != current_app.config["ISSUER"] or client.client_id not in (
            [aud] if isinstance(aud, str) else (aud or [])) or not isinstance(values.get("sub"), str):
        raise AuthorizeError("invalid_request", "The 'id_token_hint' is not valid.")
    return values["sub"]


# --- helpers: remembered requests --------------------------------------------------------

def _fingerprint(params) -> str:
    items = sorted((k, v) for k in params for v in params.getlist(k))
    return hashlib.sha256(urlencode(items).encode()).hexdigest()[:32]


def asks_for_fresh_sign_in(next_path: str | None) -> bool:
    """Whether the request a sign-in page returns to (its ``next``) forced a new authentication
    (``prompt=login``, or ``max_age`` passed): ``_sign_in`` remembered it with ``login_after``.
    A sign-in at the Land's service account then has to ask the upstream for one too."""
    prefix = url_for("oidc_authorize.resume", fp="")
    if not next_path or not next_path.startswith(prefix):
        return False
    entry = _stash().get(urlsplit(next_path).path[len(prefix):])
    return bool(entry and entry.get("login_after"))


def _stash() -> dict:
    """A deep copy: the session's JSON column only notices a changed value, not in-place edits."""
    return copy.deepcopy(dict(session.get("oidc_requests") or {}))


def _query(params) -> str:
    """An authorization request's parameters (query or POSTed form) as a query string."""
    return urlencode([(k, v) for k in params for v in params.getlist(k)])


def _remember(fp: str, params, **extra) -> None:
    stash = _stash()
    entry = dict(stash.get(fp) or {})
    entry["query"] = _query(params)
    entry["at"] = int(time.time())
    entry.update(extra)
    stash[fp] = entry
    while len(stash) > STASH_LIMIT:
        stash.pop(min(stash, key=lambda key: stash[key].get("at", 0)))
    session["oidc_requests"] = stash


def _forget(fp: str) -> None:
    stash = _stash()
    if stash.pop(fp, None) is not None:
        session["oidc_requests"] = stash


def _sign_in(fp, data, prompts, force):
    if "none" in prompts:
        raise AuthorizeError("login_required")
    query = _query(data)
    back = url_for("oidc_authorize.authorize") + "?" + query
    if force or len(back) > MAX_DIRECT_NEXT:
        # The request is remembered in the session: it must outlive the sign-in (forced
        # re-authentication) or is too long to ride along in the sign-in page's ``next``.
        _remember(fp, data, login_after=int(time.time()) if force else None, level_decision=None,
                  consent_decision=None)
        back = url_for("oidc_authorize.resume", fp=fp)
    params = {"next": back}
    if data.get("login_hint"):
        params["login_hint"] = data["login_hint"]
    if data.get("ui_locales"):
        params["ui_locales"] = data["ui_locales"]
    return redirect(url_for("auth.sign_in", **params))


# --- helpers: pages and records ----------------------------------------------------------

def _consent_page(fp, client, items):
    return render_template("oidc/consent.html", client=client, items=items, fp=fp, form=EmptyForm()), 200


def _step_up(fp, params, client, required, achieved, essential):
    _remember(fp, params)
    options = {}
    resume = url_for("oidc_authorize.resume", fp=fp)
    for provider in hooks().step_up_options:
        options.update(provider(auth.current_record(), resume) or {})
    two_step = "mfa" in (auth.current_record().amr or [])
    return render_template("oidc/step_up.html", client=client, required=required, achieved=achieved,
                           essential=essential, fp=fp, form=EmptyForm(), options=options, two_step=two_step), 200


def _record_consent(account, client, scopes):
    consent = Consent.query.filter_by(account_id=account.id, client_id=client.client_id).first()
    if consent is None:
        consent = Consent(account_id=account.id, client_id=client.client_id, scope="")
        db.session.add(consent)
    elif consent.revoked_at is not None:
        consent.scope, consent.revoked_at = "", None
    consent.scope = " ".join(sorted(consent.scopes | set(scopes)))
    events.record("oidc:consent:grant", account.id, client_id=client.client_id, scope=consent.scope)


def _record_sign_in(account, client, record, scopes, acr):
    """Note that this session signed in to the portal (for logout and the account page)."""
    now = utcnow()
    # Mostly the portal's first sign-in in this session: insert, and read the row only when it is there.
    if insert_unless_present(PortalSignIn, account_id=account.id, client_id=client.client_id, sid=record.sid,
                             scope=" ".join(sorted(set(scopes))), claims=[], acr=acr, last_used_at=now):
        return
    row = PortalSignIn.query.filter_by(sid=record.sid, client_id=client.client_id).first()
    row.scope = " ".join(sorted(set(row.scope.split()) | set(scopes)))
    row.acr = acr
    row.last_used_at = now
    row.ended_at = None


def _page(message: str, status: int = 400):
    return render_template("oidc/error.html", message=message), status


def _fail(target, error: str, description: str | None, page_elsewhere=None):
    """Redirect the error to the portal when its redirect URI is proven, else show a page."""
    db.session.rollback()
    if target is None and page_elsewhere:
        return redirect(page_elsewhere)
    if target is None:
        return _page(_("The portal sent an invalid sign-in request (%(error)s). Please go back to the portal.",
                       error=error))
    redirect_uri, state = target
    params = [("error", error)]
    if description:
        params.append(("error_description", description))
    if state:
        params.append(("state", state))
    params.append(("iss", current_app.config["ISSUER"]))
    return redirect(add_params_to_uri(redirect_uri, params))


def _oauth_error(error: OAuth2Error, target, page_elsewhere=None):
    if error.redirect_uri and target is not None and error.redirect_uri == target[0]:
        return _fail(target, error.error, error.get_error_description())
    return _fail(None, error.error, None, page_elsewhere)
