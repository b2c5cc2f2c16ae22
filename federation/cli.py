"""``buergerkonto upstream ...``: configure the Land's service account as upstream provider."""

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..idp.extensions import db
from . import settings as upstream_settings
from .levels import LEVELS

upstream_group = AppGroup("upstream", help="The upstream OpenID Connect provider (the Land's service account).")


def _emit(as_json: bool, payload: dict, text: str) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False) if as_json else text)


def _endpoints() -> dict:
    from flask import url_for

    base = current_app.config["ISSUER"]
    with current_app.test_request_context():
        return {
            "redirect_uri": base + url_for("federation.callback"),
            "post_logout_redirect_uri": base + url_for("federation.signed_out"),
            "backchannel_logout_uri": base + url_for("federation.backchannel_logout"),
        }


@upstream_group.command("configure")
@click.option("--issuer", required=True, help="Issuer URL of the upstream provider.")
@click.option("--client-id", required=True)
@click.option("--client-secret", default=None, help="Client secret; '-' reads it from the prompt.")
@click.option("--private-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM or JWK file for private_key_jwt (instead of a secret).")
@click.option("--scopes", default=upstream_settings.DEFAULT_SCOPES, show_default=True)
@click.option("--acr-map", default=None, help='JSON object: upstream acr -> low|substantial|high.')
@click.option("--name", "display_name", default=None, help="Name shown to citizens and used as voucher.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def configure(issuer, client_id, client_secret, private_key_file, scopes, acr_map, display_name, as_json):
    """Store the upstream configuration (secrets encrypted) in the database."""
    if client_secret == "-":
        client_secret = click.prompt("Client secret", hide_input=True)
    if bool(client_secret) == bool(private_key_file):
        raise click.UsageError("Give exactly one of --client-secret and --private-key-file.")
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise click.UsageError("The issuer must be an https URL.")
    mapping = None
    if acr_map:
        try:
            mapping = json.loads(acr_map)
        except ValueError as exc:
            raise click.UsageError(f"--acr-map is not JSON: {exc}") from exc
        if not isinstance(mapping, dict) or any(level not in LEVELS for level in mapping.values()):
            raise click.UsageError("--acr-map must map acr values to low, substantial or high.")
    if current_app.config.get("UPSTREAM_ISSUER"):
        click.echo("Note: BUERGERKONTO_UPSTREAM_ISSUER is set; the environment takes precedence.", err=True)
    private_key = private_key_file.read_text() if private_key_file else None
    row = upstream_settings.store(issuer, client_id, client_secret, private_key, scopes, mapping, display_name)
    db.session.commit()
    payload = {"issuer": row.issuer, "client_id": row.client_id,
               "token_endpoint_auth_method": "private_key_jwt" if private_key else "client_secret_basic",
               **_endpoints()}
    _emit(as_json, payload, f"Upstream {row.issuer} configured. Register at the upstream:\n"
          + "\n".join(f"  {k}: {v}" for k, v in _endpoints().items()))


@upstream_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(as_json):
    """Show the upstream configuration in force (never the secret)."""
    settings = upstream_settings.from_environment(current_app.config) or upstream_settings.from_database()
    if settings is None:
        _emit(as_json, {"configured": False}, "No upstream provider is configured.")
        return
    payload = {"configured": True, "source": settings.source, "issuer": settings.issuer,
               "client_id": settings.client_id, "token_endpoint_auth_method": settings.auth_method,
               "scopes": settings.scope_list, "acr_map": settings.acr_map, "name": settings.display_name,
               **_endpoints()}
    _emit(as_json, payload, "\n".join(f"{k}: {v}" for k, v in payload.items()))


@upstream_group.command("remove")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def remove(as_json):
    """Forget the stored configuration (links of citizens stay; sign-in upstream stops)."""
    from .models import Upstream

    count = 0
    for row in Upstream.query.filter(Upstream.client_id.isnot(None)):
        row.client_id = row.client_secret_enc = row.private_key_enc = None
        count += 1
    db.session.commit()
    _emit(as_json, {"removed": count}, f"Removed {count} stored upstream configuration(s).")
