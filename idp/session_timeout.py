"""The idle timeout, said and adjustable (WCAG 2.2.1 Timing Adjustable, 3.3.1 Error Identification).

A signed-in session ends after ``SESSION_IDLE_TIMEOUT`` (citizens) or ``STAFF_SESSION_IDLE_TIMEOUT``
(staff) without a request, and a form typed meanwhile would be lost unawares. So:

- every page of a signed-in session says the limit in words (also without JavaScript), and tells
  ``static/session-timeout.js`` on ``<body>`` how many seconds are left; shortly before the end the
  script offers "Stay signed in", which posts to ``keep_alive`` and restarts the idle clock;
- the absolute lifetime (``SESSION_ABSOLUTE_TIMEOUT``, 12 hours) is said in the footer too, and when it
  ends before the idle clock, the script warns of it instead: it cannot be extended (ASVS 3.3), nor
  renewed by signing in again in the same session, so the notice only says to finish what is being
  typed; once it has ended, the notice leads to the sign-in;
- a form sent after the end is answered with why it was refused and a way to sign in again that
  leads back to the form (``expired_page``; the ended session took the form's CSRF token with it).
"""

from math import ceil

from flask import Blueprint, current_app, render_template, request, session, url_for
from flask_babel import gettext as _, ngettext

from . import auth
from .extensions import db
from .models import WebSession
from .sessions import Lapsed, idle_deadline, idle_timeout
from .timeutil import utcnow
from .web import form_page, problem, safe_next, sign_in_url

# The notice comes this long before the end: time to notice it, read it and press the button.
WARNING_SECONDS = 120

bp = Blueprint("session_timeout", __name__)


@bp.post("/session/keep-alive")
def keep_alive():
    """"Stay signed in": restart the idle clock, never the absolute lifetime (CSRF-checked like every post)."""
    record = signed_in_record()
    if record is None:
        return problem(401, "Unauthorized", "Nobody is signed in on this session.")
    record.last_seen_at = utcnow()
    db.session.commit()
    return "", 204


def signed_in_record() -> WebSession | None:
    """This browser's session if a citizen or a member of staff is signed in on it."""
    record = auth.current_record()
    if record is None or record.authenticated_at is None or record.ended_at is not None:
        return None
    return record


def page_state() -> dict | None:
    """What base.html needs to say the time limit and to offer more time; ``None`` when nobody is signed in."""
    record = signed_in_record()
    if record is None:
        return None
    now = utcnow()
    limit = idle_timeout(current_app, record.kind)
    return {
        "minutes": _minutes(limit.total_seconds()),
        "idle_seconds": int(limit.total_seconds()),
        "seconds_left": max(0, int((idle_deadline(current_app, session, now) - now).total_seconds())),
        # The absolute lifetime cannot be extended (that is its point), but it is said and warned of too.
        "lifetime_seconds_left": max(0, int((record.expires_at - now).total_seconds())),
        "lifetime_hours": _hours(current_app.config["SESSION_ABSOLUTE_TIMEOUT"].total_seconds()),
        "warning_seconds": WARNING_SECONDS,
        "warning_minutes": _minutes(WARNING_SECONDS),
        "keep_alive_url": url_for("session_timeout.keep_alive"),
        "sign_in_url": sign_in_url(record.kind, _this_page()),
    }


def expired_page_if_lapsed():
    """For a form refused by its CSRF check: the expired page when the token was a session's that is
    over (say so, and lead back through the sign-in); ``None`` when the refusal has another cause."""
    lapsed = getattr(session, "lapsed", None)
    return expired_page(lapsed) if lapsed is not None else None


def expired_page(lapsed: Lapsed):
    """The answer to a form sent after its session ended: why, and the way back to it through the sign-in."""
    if lapsed.reason == "idle":
        title = _("Your session has expired")
        message = ngettext(
            "You were inactive for more than %(num)d minute. For your security you were signed out; "
            "the form was not sent. Please sign in again.",
            "You were inactive for more than %(num)d minutes. For your security you were signed out; "
            "the form was not sent. Please sign in again.",
            _minutes(idle_timeout(current_app, lapsed.kind).total_seconds()))
    else:
        # Past its absolute lifetime, or ended on purpose (signed out in another tab, on the account page).
        title = _("Your session has expired") if lapsed.reason == "lifetime" else _("Your session has ended")
        message = _("You are no longer signed in, so the form was not sent. Please sign in again.")
    back = {"url": sign_in_url(lapsed.kind, form_page()), "label": _("Sign in again")}
    return render_template("error.html", status=400, title=title, message=message, back=back), 400


def _this_page() -> str | None:
    """The page being shown: where signing in again should lead back to."""
    if request.method == "POST":
        return form_page()
    return safe_next(request.full_path.rstrip("?"), default=None)


def _minutes(seconds: float) -> int:
    return ceil(seconds / 60)


def _hours(seconds: float) -> int:
    return max(1, round(seconds / 3600))
