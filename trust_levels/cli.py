"""Operator commands: ``offices create``, ``staff create|reset|link|disable``, ``trust notify-expiring``,
``audit head|verify``."""

import sys

import click
from flask.cli import with_appcontext

from ..idp import mail
from ..idp.cli import emit, fail
from ..idp.extensions import db
from . import audit, service
from .models import StaffMember


@click.group("offices")
def offices_group():
    """Municipalities and their citizen offices (Bürgerbüros)."""


@offices_group.command("create")
@click.option("--name", required=True, help="Name of the office, e.g. 'Bürgerbüro Leer'.")
@click.option("--ags", required=True, help="Amtlicher Gemeindeschlüssel of the municipality (8 digits).")
@click.option("--municipality", "municipality_name", default=None,
              help="Name of the municipality (first office of an AGS only; defaults to the office name).")
@click.option("--street", default=None)
@click.option("--postal-code", default=None)
@click.option("--locality", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def offices_create(name, ags, municipality_name, street, postal_code, locality, as_json):
    """Create a citizen office (and its municipality on first use)."""
    try:
        office = service.create_office(name, ags, municipality_name, street, postal_code, locality)
    except service.InvalidInput as exc:
        fail(str(exc))
    db.session.commit()
    emit(as_json, {"id": office.id, "name": office.name, "ags": office.municipality.ags,
                   "municipality": office.municipality.name},
         f"Created office {office.id}: {office.name} ({office.municipality.name}, AGS {office.municipality.ags}).")


@click.group("staff")
def staff_group():
    """Bürgerbüro staff (separate from citizen accounts)."""


@staff_group.command("create")
@click.option("--email", required=True)
@click.option("--office", "office_id", required=True, type=int, help="Office id (from 'offices create').")
@click.option("--role", required=True, type=click.Choice(["verifier", "office-admin"]))
@click.option("--citizen-account", default=None,
              help="The employee's own citizen account (id or e-mail): they can never confirm it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def staff_create(email, office_id, role, citizen_account, as_json):
    """Create a staff member and print a one-time set-up link (valid STAFF_SETUP_LINK_HOURS).

    Hand the link to the employee in person or by internal mail: they choose
    their password with it and set up their authenticator app at the first
    sign-in. Nobody else ever knows their credentials.
    """
    try:
        staff, link = service.create_staff(email, office_id, role, citizen_account)
    except service.InvalidInput as exc:
        fail(str(exc))
    db.session.commit()
    emit(as_json, {"id": staff.id, "email": staff.email, "office_id": staff.office_id, "role": staff.role,
                   "setup_url": link, "setup_expires_at": staff.setup_expires_at.isoformat() + "Z"},
         f"Created staff member {staff.id} ({staff.email}, {staff.role}).\nOne-time set-up link: {link}")


@staff_group.command("reset")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def staff_reset(email, as_json):
    """Forgotten password, lost phone or laptop: a new set-up link; the old password, TOTP and sessions stop working."""
    staff = StaffMember.query.filter_by(email=email.strip().lower()).first()
    if staff is None:
        fail("There is no staff member with this e-mail address.")
    link = service.reset_staff(staff)
    db.session.commit()
    emit(as_json, {"id": staff.id, "setup_url": link}, f"New one-time set-up link: {link}")


@staff_group.command("link")
@click.option("--email", required=True)
@click.option("--citizen-account", required=True,
              help="The employee's own citizen account (id or e-mail): they can never confirm it.")
@with_appcontext
def staff_link(email, citizen_account):
    """Bind a staff member to their own citizen account, as ``create --citizen-account`` does; for one
    opened later, or a new one after the linked account was deleted (the log then says
    ``trust:staff:citizen_link_ended``)."""
    staff = StaffMember.query.filter_by(email=email.strip().lower()).first()
    if staff is None:
        fail("There is no staff member with this e-mail address.")
    try:
        linked = service.link_citizen_account(staff, citizen_account)
    except service.InvalidInput as exc:
        fail(str(exc))
    db.session.commit()
    click.echo(f"Staff member {staff.id} ({staff.email}) is linked to citizen account {linked.uuid}.")


@staff_group.command("disable")
@click.option("--email", required=True)
@with_appcontext
def staff_disable(email):
    """Off-boarding: the staff member is signed out and cannot sign in any more (records and audit entries stay)."""
    staff = StaffMember.query.filter_by(email=email.strip().lower()).first()
    if staff is None:
        fail("There is no staff member with this e-mail address.")
    service.disable_staff(staff)
    db.session.commit()
    click.echo(f"Staff member {staff.id} ({staff.email}) is disabled.")


@click.group("trust")
def trust_group():
    """Identity verification upkeep."""


@trust_group.command("notify-expiring")
@click.option("--days", type=int, default=None, help="Look ahead (default TRUST_EXPIRY_NOTICE_DAYS).")
@with_appcontext
def notify_expiring(days):
    """Tell citizens by e-mail that their confirmed identity lapses with their document (once each)."""
    from flask import current_app

    days = current_app.config["TRUST_EXPIRY_NOTICE_DAYS"] if days is None else days
    queued = service.notify_expiring(days)
    db.session.commit()
    sent = mail.deliver_pending(queued) if queued else 0
    click.echo(f"{len(queued)} notice(s) queued, {sent} delivered.")


@click.group("audit")
def audit_group():
    """The staff audit log."""


@audit_group.command("head")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def audit_head(as_json):
    """Print the chain's head (SEQ:HASH of the newest entry) to keep outside the database.

    Run it from a timer into the system log or another store that database access
    cannot change: ``audit verify --head`` with the last one recorded then finds
    deleted newest entries, which the chain alone cannot show.
    """
    head = audit.head()
    emit(as_json, {"seq": head.seq, "hash": head.entry_hash, "head": str(head)}, str(head))


def _head_option(ctx, param, value):
    try:
        return audit.Head.parse(value) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@audit_group.command("verify")
@click.option("--head", callback=_head_option, metavar="SEQ:HASH",
              help="A head recorded earlier by 'audit head': the chain must still reach it unchanged.")
@with_appcontext
def audit_verify(head):
    """Check the hash chain; name the first broken entry (exit status 1 then)."""
    checked, broken = audit.verify(head=head)
    if broken is None:
        reaches = f", reaching the recorded head {head.seq}" if head is not None else ""
        click.echo(f"Audit log intact: {checked} entries{reaches}.")
        return
    where = f"entry {broken.entry_id} (sequence {broken.seq})" if broken.entry_id else f"sequence {broken.seq}"
    click.echo(f"Audit log broken at {where}: {broken.reason}. {checked} entries before it are intact.", err=True)
    sys.exit(1)


def register(app):
    """Hang the groups on the app's CLI; the ``buergerkonto`` script finds them once the app is loaded."""
    for group in (offices_group, staff_group, trust_group, audit_group):
        app.cli.add_command(group)
