"""The citizen's postbox pages on the Bürgerkonto itself, and its section on the account page.

The level that opens a message here is the level of this browser sign-in
(identity proofing and session strength, as the provider computes it for
portals); a message above it shows sender and date only, with how to step up.
"""

from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from ..idp import auth
from ..idp.extensions import db
from ..idp.forms import EmptyForm
from ..idp.hooks import proofing_level
from ..idp.oidc import claims
from . import service
from .formatting import file_size

bp = Blueprint("postbox", __name__, url_prefix="/postbox", template_folder="templates")
bp.add_app_template_filter(file_size, "file_size")
PAGE = 20


def _level() -> str:
    return claims.achieved_level(auth.current_account(), auth.current_record())


def export(account) -> list[dict]:
    """The postbox in the data export (``/account/export``): what this sign-in's level opens."""
    return service.export(account, _level())


def _can_step_up(account, needed: str) -> bool:
    """A second factor raises the session to ``substantial`` when the identity is proven that far."""
    return (account.totp_enabled and "mfa" not in (auth.current_record().amr or [])
            and claims.at_least(proofing_level(account), needed) and claims.at_least("substantial", needed))


def _rows(messages, level):
    rows = []
    for message in messages:
        readable = service.level_allows(level, message)
        rows.append({"message": message, "readable": readable,
                     "subject": service.subject_of(message) if readable else None})
    return rows


@bp.route("")
@auth.login_required
def inbox():
    account = auth.current_account()
    unread_only = request.args.get("unread") == "1"
    try:
        messages, cursor = service.page(account.id, PAGE, request.args.get("cursor") or None,
                                        True if unread_only else None)
    except service.CursorInvalid:
        return redirect(url_for("postbox.inbox"))
    level = _level()
    return render_template("mailbox/inbox.html", rows=_rows(messages, level), next_cursor=cursor,
                           unread_only=unread_only, unread=service.unread_count(account.id),
                           timelines=service.timelines(account.id, level),
                           first_page=not request.args.get("cursor"))


def _own_message(message_id):
    """The signed-in citizen's live message, or 404 (others' and deleted ones are not found)."""
    message = service.find(auth.current_account().id, message_id)
    if message is None:
        abort(404)
    return message


def _locked_page(message, level: str):
    """A message above the sign-in's level: sender and date only, and how to step up (403).

    Every page that would show a message's content answers with this instead,
    so a page of its own (such as the deletion question) cannot leak the subject.
    The step-up comes back to the page asked for.
    """
    return render_template("mailbox/locked.html", message=message, level=level, resume=request.path,
                           step_up=_can_step_up(auth.current_account(), message.min_level)), 403


@bp.route("/<message_id>")
@auth.login_required
def read(message_id):
    message = _own_message(message_id)
    level = _level()
    if not service.level_allows(level, message):
        return _locked_page(message, level)
    opened = service.open_message(message)
    service.mark_read(message, auth.current_account().id, via="account-page")
    db.session.commit()
    return render_template("mailbox/message.html", opened=opened, message=message)


@bp.route("/<message_id>/attachments/<int:number>")
@auth.login_required
def download(message_id, number):
    account = auth.current_account()
    message = service.find(account.id, message_id)
    if message is None or not service.level_allows(_level(), message):
        abort(404)
    found = service.attachment_content(message, number)
    if found is None:
        abort(404)
    filename, content_type, content = found
    response = send_file(BytesIO(content), mimetype=content_type, as_attachment=True, download_name=filename)
    # A notice must not stay in the browser's cache on a shared computer (send_file sets its own
    # Cache-Control, so the pages' default no-store would not be added).
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<message_id>/delete", methods=["GET"])
@auth.login_required
def confirm_delete(message_id):
    """Ask before deleting: a notice cannot be restored (WCAG 3.3.4), so one click must not do it.

    The question names the subject, so it is gated like the message itself. Nothing is marked read.
    """
    message = _own_message(message_id)
    level = _level()
    if not service.level_allows(level, message):
        return _locked_page(message, level)
    return render_template("mailbox/delete.html", message=message, subject=service.subject_of(message),
                           form=EmptyForm())


@bp.route("/<message_id>/delete", methods=["POST"])
@auth.login_required
def delete(message_id):
    account = auth.current_account()
    message = service.find(account.id, message_id)
    form = EmptyForm()
    if message is None or not form.validate_on_submit() or not service.level_allows(_level(), message):
        flash(_("The message could not be deleted."), "error")
        return redirect(url_for("postbox.inbox"))
    service.delete(message, account.id, via="account-page")
    db.session.commit()
    flash(_("The message was deleted."), "success")
    return redirect(url_for("postbox.inbox"))


def account_section(account) -> Markup:
    """The postbox on the account page: unread count and the latest messages."""
    messages, _cursor = service.page(account.id, 5)
    return Markup(render_template("mailbox/account_section.html", rows=_rows(messages, _level()),
                                  unread=service.unread_count(account.id)))
