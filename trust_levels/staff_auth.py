"""Staff sessions: password plus TOTP, always; a session of kind ``staff``, never a citizen's.

A staff session is a ``WebSession`` of kind ``staff`` (created by
``idp.sessions.rotate``) with no citizen account bound to it, so
``idp.auth.current_account()`` never sees it and no portal sign-in can be
built on it. Its idle timeout is ``STAFF_SESSION_IDLE_TIMEOUT``.
"""

from functools import wraps

from flask import abort, current_app, redirect, render_template, request, session, url_for

from ..idp import auth, events
from ..idp.extensions import db
from ..idp.sessions import rotate
from ..idp.timeutil import utcnow
from .models import StaffMember

AMR = ["pwd", "otp", "mfa"]
_PENDING = "staff_pending"
_PENDING_WINDOW = 300  # seconds a correct password waits for its code


def current_staff() -> StaffMember | None:
    """The staff member signed in on this browser, if any."""
    record = auth.current_record()
    if record is None or record.kind != "staff" or record.ended_at is not None:
        return None
    if record.authenticated_at is None or record.account_id is not None:
        return None
    staff_id = session.get("staff_id")
    staff = db.session.get(StaffMember, staff_id) if isinstance(staff_id, int) else None
    if staff is None or staff.disabled_at is not None or not staff.totp_enabled:
        return None
    if record.authenticated_at < staff.credentials_set_at:
        # Signed in with credentials that were reset since (a lost laptop): ``staff reset`` ends such
        # sessions; this holds even for one it missed.
        return None
    return staff


def citizen_signed_in() -> bool:
    return auth.current_account() is not None


def start_pending(staff: StaffMember) -> None:
    """A correct password: remember it briefly while the code (or TOTP enrolment) follows."""
    session[_PENDING] = {"staff_id": staff.id, "at": int(utcnow().timestamp()),
                         "password_set_at": _stamp(staff.password_set_at)}


def _stamp(moment) -> str | None:
    return moment.isoformat() if moment else None


def pending_staff() -> StaffMember | None:
    pending = session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    if int(utcnow().timestamp()) - int(pending.get("at", 0)) > _PENDING_WINDOW:
        return None
    staff = db.session.get(StaffMember, pending.get("staff_id"))
    if staff is None or staff.disabled_at is not None or not staff.password_hash:
        return None
    if pending.get("password_set_at") != _stamp(staff.password_set_at):
        # The password was set anew after this step (``staff reset``): the old one proves nothing,
        # and must not lead to enrolling an authenticator for the new one.
        return None
    return staff


def sign_in(staff: StaffMember) -> None:
    """Password and code are both done: a new staff-kind session (new id, new CSRF token)."""
    record = rotate(current_app, session, kind="staff")
    record.authenticated_at = utcnow()
    record.amr = list(AMR)
    session.clear()
    session["staff_id"] = staff.id
    events.record("staff:login:success", None, staff_id=staff.id, office_id=staff.office_id, sid=record.sid)


def sign_out() -> None:
    record = auth.current_record()
    if record is not None and record.ended_at is None:
        record.ended_at = utcnow()
        events.record("staff:logout", None, staff_id=session.get("staff_id"), sid=record.sid)
    session.clear()
    session.record = None
    session.token = None


# Fetch Metadata (``Sec-Fetch-Site``, sent by every current browser) of a request another site's page
# started. ``same-site`` too: the district's portals may share its site (kreis-leer.de and its subdomains).
_OTHER_SITES = ("cross-site", "same-site")


def opened_from_another_site() -> bool:
    """A page GET that a link or redirect on another site started.

    Opening a record writes its ``view`` to the audit log: a link on another site (in a webmail, on a
    portal) must not make a signed-in clerk's browser write entries nobody chose to write. The cookie
    (SameSite=Lax) goes along with such a navigation, so the header is what tells it apart.
    """
    return request.method in ("GET", "HEAD") and request.headers.get("Sec-Fetch-Site") in _OTHER_SITES


def staff_required(view):
    """Staff pages: a citizen session is refused outright; anyone else goes to the staff sign-in; a
    staff page opened from another site asks for a click here first (``opened_from_another_site``)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if citizen_signed_in():
            abort(403)
        elsewhere = opened_from_another_site()
        if current_staff() is None:
            # A link from elsewhere does not choose the page the sign-in leads to either.
            return redirect(url_for("trust_staff.sign_in", next=None if elsewhere else request.path))
        if elsewhere:
            here = request.full_path if request.query_string else request.path
            return render_template("trust_levels/staff/opened_elsewhere.html", staff=current_staff(),
                                   here=here), 200
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    @wraps(view)
    @staff_required
    def wrapped(*args, **kwargs):
        if not current_staff().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
