"""Operator commands: ``keys rotate-postbox``, ``postbox purge``, ``postbox reindex``."""

import json
from datetime import timedelta

import click
from flask.cli import AppGroup, with_appcontext

from ..idp.extensions import db

postbox_group = AppGroup("postbox", help="The shared postbox.")


@click.command("rotate-postbox")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def rotate_postbox(batch, as_json):
    """Re-wrap postbox data keys with the current POSTBOX_KEK (keep the old one in POSTBOX_KEK_PREVIOUS
    until this has finished; the service keeps serving meanwhile)."""
    from . import sealing, service

    count = service.rotate_keys(batch)
    kid, _key = sealing.current_kek()
    click.echo(json.dumps({"rewrapped": count, "kek_id": kid}) if as_json
               else f"{count} data key(s) re-wrapped with key {kid}.")


@postbox_group.command("purge")
@click.option("--days", default=None, type=click.IntRange(0, None),
              help="Purge messages deleted longer ago than this (default: POSTBOX_RETENTION_DAYS).")
@click.option("--json", "as_json", is_flag=True)
def purge(days, as_json):
    """Remove deleted messages for good once their retention period has passed, and attachment files
    that no message names (left by a process that died mid-send; only files older than an hour)."""
    from . import service, storage

    count = service.purge(timedelta(days=days) if days is not None else None)
    db.session.commit()
    orphans = storage.sweep_orphans()
    click.echo(json.dumps({"purged": count, "orphaned_files_removed": orphans}) if as_json
               else f"{count} deleted message(s) purged, {orphans} orphaned attachment file(s) removed.")


@postbox_group.command("reindex")
def reindex():
    """Index the subjects of portals citizens signed in to before the postbox was installed (or, for
    portals with public subjects, before their sign-ins were indexed)."""
    from ..idp.models import Account
    from ..idp.oidc.models import Client, PortalSignIn
    from . import service

    pairs = db.session.query(PortalSignIn.account_id, PortalSignIn.client_id).distinct().all()
    for account_id, client_id in pairs:
        account, client = db.session.get(Account, account_id), Client.query.filter_by(client_id=client_id).first()
        if account is not None and client is not None:
            service.index_subject(account, client)
    db.session.commit()
    click.echo(f"{len(pairs)} portal sign-in(s) indexed.")


def register(app) -> None:
    app.cli.add_command(postbox_group)
    keys = app.cli.commands.get("keys")
    if keys is None:
        keys = AppGroup("keys", help="Keys of the service.")
        app.cli.add_command(keys)
    keys.add_command(rotate_postbox)
