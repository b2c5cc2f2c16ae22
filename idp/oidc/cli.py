"""Operator commands: ``clients create|list|delete``, ``keys rotate``, ``sessions expire``, ``logout deliver``,
``purge``."""

import json

import click
from flask.cli import AppGroup, with_appcontext

from ..extensions import db
from . import clients, keys, logout
from .models import ACCESS_TOKEN_FORMATS, Client

clients_group = AppGroup("clients", help="Portals (OpenID Connect clients).")
keys_group = AppGroup("keys", help="Signing keys of ID tokens and logout tokens.")
sessions_group = AppGroup("sessions", help="Citizen sessions.")
logout_group = AppGroup("logout", help="Back-channel logout deliveries.")


def _emit(as_json: bool, payload: dict, text: str) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False) if as_json else text)


@clients_group.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option("--backchannel-logout-uri", default=None)
@click.option("--public", is_flag=True, help="A public client (no secret, auth method 'none').")
@click.option("--external", is_flag=True, help="Not a member portal: citizens see a consent page.")
@click.option("--token-endpoint-auth-method", "method", default=None,
              type=click.Choice(clients.AUTH_METHODS))
@click.option("--jwks-uri", default=None)
@click.option("--jwks", "jwks", default=None, help="A JWKS (JSON) instead of --jwks-uri.")
@click.option("--sector-identifier", default=None)
@click.option("--subject-type", default="pairwise", type=click.Choice(["pairwise", "public"]))
@click.option("--id-token-alg", default="ES256", type=click.Choice(["ES256", "RS256"]))
@click.option("--scope", "scopes", multiple=True, help="Allowed scopes (default: all citizen scopes).")
@click.option("--access-token-format", default="jwt", type=click.Choice(ACCESS_TOKEN_FORMATS),
              help="Client-credentials access tokens as signed RFC 9068 JWTs (default) or opaque strings.")
@click.option("--municipality", default=None,
              help="The town or district the portal speaks for, named with its postbox messages.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def clients_create(name, redirect_uris, post_logout_uris, backchannel_logout_uri, public, external, method,
                   jwks_uri, jwks, sector_identifier, subject_type, id_token_alg, scopes, access_token_format,
                   municipality, as_json):
    """Register a portal; prints its client_id and (once) its client_secret."""
    try:
        client, secret = clients.create_client(
            name, list(redirect_uris), list(post_logout_uris), backchannel_logout_uri, public, external,
            method, jwks_uri, json.loads(jwks) if jwks else None, sector_identifier, subject_type,
            id_token_alg, " ".join(scopes) or None, access_token_format, municipality)
    except (clients.ClientInvalid, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    keys.ensure_keys()
    payload = {"client_id": client.client_id, "client_secret": secret, "name": client.name,
               "token_endpoint_auth_method": client.token_endpoint_auth_method, "member": client.member,
               "access_token_format": client.access_token_format,
               "municipality": client.client_metadata.get("municipality")}
    _emit(as_json, payload, f"client_id: {client.client_id}\nclient_secret: {secret or '(none)'}\n"
                            "The secret is shown only now; it is stored hashed.")


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def clients_list(as_json):
    """List the registered portals."""
    rows = Client.query.order_by(Client.id).all()
    if as_json:
        click.echo(json.dumps([{"client_id": c.client_id, "name": c.name, "member": c.member,
                                "redirect_uris": c.redirect_uris,
                                "token_endpoint_auth_method": c.token_endpoint_auth_method,
                                "access_token_format": c.access_token_format,
                                "municipality": c.client_metadata.get("municipality")} for c in rows]))
        return
    for c in rows:
        click.echo(f"{c.client_id}  {c.name}  {'member' if c.member else 'external'}  "
                   f"{c.token_endpoint_auth_method}  {c.access_token_format}  {' '.join(c.redirect_uris)}")


@clients_group.command("update")
@click.argument("client_id")
@click.option("--access-token-format", default=None, type=click.Choice(ACCESS_TOKEN_FORMATS),
              help="How the portal's next client-credentials tokens look; issued ones stay valid until they expire.")
@click.option("--municipality", default=None,
              help="The town or district the portal speaks for, named with its postbox messages.")
def clients_update(client_id, access_token_format, municipality):
    """Change a portal's registration: the format of its client-credentials access tokens, its municipality."""
    if access_token_format is None and municipality is None:
        raise click.UsageError("Give --access-token-format or --municipality.")
    try:
        client = clients.update_client(client_id, access_token_format, municipality)
    except (clients.ClientInvalid, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if client is None:
        raise click.ClickException("No such client.")
    db.session.commit()
    click.echo(f"Client {client_id}: access tokens {client.access_token_format}, "
               f"municipality {client.client_metadata.get('municipality') or '(none)'}.")


@clients_group.command("delete")
@click.argument("client_id")
def clients_delete(client_id):
    """Delete a portal and everything issued to it."""
    if not clients.delete_client(client_id):
        raise click.ClickException("No such client.")
    db.session.commit()
    click.echo(f"Deleted client {client_id}.")


@keys_group.command("rotate")
@click.option("--json", "as_json", is_flag=True)
def keys_rotate(as_json):
    """Add new active signing keys; the old ones stay published until their tokens expired."""
    new = keys.rotate()
    purged = keys.purge_retired()
    db.session.commit()
    _emit(as_json, {"kids": [k.kid for k in new], "purged": purged},
          "New active keys: " + ", ".join(f"{k.alg} {k.kid}" for k in new))


@sessions_group.command("expire")
def sessions_expire():
    """End sessions past their timeouts and tell their portals (run it every few minutes)."""
    count = logout.expire_sessions()
    retried = logout.deliver_pending()
    click.echo(f"{count} session(s) ended, {retried} logout token(s) delivered.")


@click.command("purge")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def purge_command(as_json):
    """Delete used codes, spent tokens and other rows nothing needs any more (run it daily)."""
    from .purge import purge

    counts = purge()
    db.session.commit()
    _emit(as_json, counts, ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items())
          + " deleted.")


@logout_group.command("deliver")
def logout_deliver():
    """Retry pending back-channel logout deliveries."""
    click.echo(f"{logout.deliver_pending()} logout token(s) delivered.")


def register(app) -> None:
    for group in (clients_group, keys_group, sessions_group, logout_group, purge_command):
        app.cli.add_command(group)
