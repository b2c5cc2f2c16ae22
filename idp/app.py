"""The application factory: configuration, extensions, parts, error pages, headers."""

import os
import time
from math import ceil

from flask import Flask, render_template, request
from flask_babel import get_locale, gettext as _, ngettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import auth, request_log, session_timeout
from .config import load_config
from .extensions import babel, csrf, db, limiter, migrate
from .hooks import Hooks
from .mail import deliver_queued_after_request
from .sessions import DatabaseSessionInterface
from .throttle import Throttled
from .web import (SIGN_IN_ENDPOINTS, form_page, page_endpoint, problem, refuse_unreadable_input,
                  security_headers, select_locale, sign_in_url, wants_problem_json)

MIGRATIONS_DIR = __import__("pathlib").Path(__file__).resolve().parent.parent / "migrations"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Bürgerkonto app; ``test_config`` overrides everything else."""
    app = Flask("buergerkonto.idp", instance_relative_config=True,
                instance_path=os.environ.get("BUERGERKONTO_INSTANCE_PATH") or None)
    load_config(app, test_config)
    if app.config["TRUSTED_PROXIES"]:
        count = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    app.extensions["buergerkonto.hooks"] = Hooks()
    app.extensions["buergerkonto.account_sections"] = []
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.config.setdefault("RATELIMIT_ENABLED", not app.config.get("TESTING_DISABLE_RATELIMIT", False))
    limiter.init_app(app)
    limiter.request_filter(_declares_no_limits)
    _check_limits_in_views_only(app)
    app.session_interface = DatabaseSessionInterface()

    from . import views_account, views_auth

    app.register_blueprint(views_auth.bp)
    app.register_blueprint(views_account.bp)
    app.register_blueprint(session_timeout.bp)
    _register_parts(app)

    app.before_request(refuse_unreadable_input)
    app.after_request(security_headers)
    app.after_request(deliver_queued_after_request)
    app.after_request(auth.notify_ended_after_request)
    _register_error_handlers(app)
    _register_template_helpers(app)
    request_log.init_app(app)  # after the parts: it reads their routes
    return app


def _declares_no_limits() -> bool:
    """The OAuth endpoints and discovery carry no rate limits: spare them the limiter's per-request work.

    (Client secrets are 256-bit random and tokens are looked up by hash, so guessing is no threat
    there; the limits that exist guard the citizen's forms and the postbox API.)
    """
    return request.path.startswith(("/oauth/", "/.well-known/"))


_APP_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")


def _check_limits_in_views_only(app: Flask) -> None:
    """Without app-wide limits, drop Flask-Limiter's check before every request.

    The service declares its limits on the views that need them (``@limiter.limit``), and the
    decorator checks those itself. The before-request hook is for limits on the whole app
    (``RATELIMIT_DEFAULT`` and the like, which an operator may still configure) or on whole
    blueprints (this service declares none: put a limit on each view instead). With neither it
    found nothing to check and cost 0.06 ms of a userinfo request's 0.9 ms CPU (in-process).
    """
    hooks = app.before_request_funcs[None]
    if limiter._check_request_limit in hooks and not any(app.config.get(name) for name in _APP_WIDE_LIMITS):
        hooks.remove(limiter._check_request_limit)  # (not there at all with RATELIMIT_ENABLED off)


def _register_parts(app: Flask) -> None:
    """Let each part plug itself in (blueprints, hooks, CLI)."""
    from .oidc import init_app as init_oidc

    init_oidc(app)
    for module_name in ("trust_levels", "federation", "mailbox"):
        module = __import__(f"buergerkonto.{module_name}", fromlist=["init_app"])
        if hasattr(module, "init_app"):
            module.init_app(app)


def _register_template_helpers(app: Flask) -> None:
    @app.context_processor
    def inject():
        return {
            "current_account": auth.current_account(),
            "current_locale": str(get_locale()),
            "languages": app.config["LANGUAGES"],
            "session_timeout": session_timeout.page_state(),
        }


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Throttled)
    def throttled(exc: Throttled):
        from .extensions import db

        db.session.rollback()
        headers = {"Retry-After": str(exc.retry_after)}
        if wants_problem_json():
            response = problem(429, "Too Many Requests", "Too many failed attempts.",
                               retry_after=exc.retry_after)
            response.headers.update(headers)
            return response
        return render_template("error.html", status=429, title=_("Too many attempts"),
                               message=_("Too many failed attempts.") + " " + wait_sentence(exc.retry_after),
                               back=back_link(), retry_after=exc.retry_after), 429, headers

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if wants_problem_json():
            return problem(400, "Bad Request", "The form's security token is missing or invalid.")
        expired = session_timeout.expired_page_if_lapsed()
        if expired is not None:
            return expired
        return render_template("error.html", status=400, title=_("The form has expired"),
                               message=_("For your security the form could not be accepted. Please go "
                                         "back, reload the page and try again."), back=back_link()), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 429 and wants_problem_json():
            return problem(429, "Too Many Requests", exc.description)
        if wants_problem_json():
            return problem(exc.code or 500, exc.name, exc.description)
        if exc.code == 429:
            return _too_many_requests_page()
        titles = {400: _("Bad request"), 403: _("Access denied"), 404: _("Page not found"),
                  405: _("Method not allowed"), 413: _("Too large"), 415: _("The form could not be read")}
        messages = {404: _("The page you asked for does not exist."),
                    415: _("This page takes only what its own form sends. Please fill in the form on the page.")}
        return render_template("error.html", status=exc.code, title=titles.get(exc.code, exc.name),
                               message=messages.get(exc.code, _("The request could not be processed."))), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        from .extensions import db

        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_problem_json():
            return problem(500, "Internal Server Error")
        return render_template("error.html", status=500, title=_("Something went wrong"),
                               message=_("Please try again later.")), 500


def _too_many_requests_page():
    """A rate limit (Flask-Limiter) was hit: say how long it holds, as its Retry-After header does."""
    seconds = _limit_wait_seconds()
    if seconds is None:
        message = _("Too many requests. Please wait a moment and try again.")
    else:
        message = _("Too many requests.") + " " + wait_sentence(seconds)
    return render_template("error.html", status=429, title=_("Too many requests"), message=message,
                           back=back_link()), 429


def _limit_wait_seconds() -> int | None:
    """Seconds until the limit this request broke lets it through, computed as for Retry-After."""
    limit = limiter.current_limit
    if limit is None:
        return None
    return max(1, int(limit.reset_at - time.time()))


def wait_sentence(seconds: int) -> str:
    """How long to wait, as a person reads it: whole minutes (rounded up) from a minute on, else seconds."""
    if seconds >= 60:
        return ngettext("Please wait %(num)d minute and try again.",
                        "Please wait %(num)d minutes and try again.", ceil(seconds / 60))
    return ngettext("Please wait %(num)d second and try again.",
                    "Please wait %(num)d seconds and try again.", max(1, seconds))


def back_link() -> dict:
    """The error page's way back: to the form that was sent, or to the sign-in when that is unclear."""
    page = form_page()
    if page is None:
        record = auth.current_record()
        return {"url": sign_in_url(record.kind if record is not None else "citizen"),
                "label": _("Back to sign-in")}
    if page_endpoint(page.split("?", 1)[0]) in SIGN_IN_ENDPOINTS.values():
        return {"url": page, "label": _("Back to sign-in")}
    return {"url": page, "label": _("Back to the form")}
