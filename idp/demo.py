"""``buergerkonto demo``: the whole portal network on one machine, with demo data on SQLite.

It starts the Bürgerkonto and two demo portals ("Stadt Leer", "Landkreis
Leer"), each a separate relying party on its own port, seeds a district and
two towns with their Bürgerbüros and staff, a demo citizen, and registers the
portals as clients. Secrets of the seeded clients and staff are kept in the
instance folder (``demo.json``, mode 0600), so a second run finds everything
again.

The parts seed their own data: each registers ``fn(app, state, ctx)`` in
``app.extensions["buergerkonto.demo_seeders"]`` (offices and staff come from
``trust_levels``) and may start extra processes through
``app.extensions["buergerkonto.demo_services"]`` (the state account from
``federation``). So this module, like the app factory, never imports a part:
dependencies keep pointing from the parts to ``idp``.

The same functions build the live network of the end-to-end tests
(``tests/e2e``), so what the tests drive is what an evaluator runs.
"""

import json
import os
import secrets
import signal
import threading
from pathlib import Path

import click
from werkzeug.serving import make_server

DEMO_PASSWORD = "Demo-Buergerkonto-2026"
DEMO_CITIZEN = "erika.mustermann@example.org"
PORTALS = [
    {"key": "stadt", "NAME": "Stadt Leer", "COLOR": "#2d4b2d", "offset": 1},
    {"key": "landkreis", "NAME": "Landkreis Leer", "COLOR": "#5a2d0c", "offset": 2},
]
STATE_FILE = "demo.json"


class DemoRefused(click.ClickException):
    """The demo will not run here (a production configuration)."""


class Server(threading.Thread):
    """A threaded WSGI server on loopback that stops on request."""

    def __init__(self, app, host: str, port: int):
        super().__init__(daemon=True)
        self.server = make_server(host, port, app, threaded=True)

    def run(self):
        self.server.serve_forever()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def load_state(instance_path: str) -> dict:
    try:
        return json.loads((Path(instance_path) / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def save_state(instance_path: str, state: dict) -> None:
    """Write the demo secrets readable by the owner only (created so, never world-readable)."""
    path = Path(instance_path) / STATE_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=2)
    os.chmod(path, 0o600)


def portal_ports(host: str, port: int) -> list[dict]:
    """The demo portals with their base URLs: the IdP's port plus one, plus two."""
    return [dict(p, base_url=f"http://{host}:{port + p['offset']}") for p in PORTALS]


def seed(app, state: dict, ctx: dict) -> dict:
    """Create what the demo needs, once; ``state`` keeps client secrets and staff credentials.

    ``ctx``: ``host``, ``port``, ``issuer``, ``portals`` (from :func:`portal_ports`).
    Every step looks for what an earlier run made first, so seeding twice changes nothing
    but the portals' URIs (the ports may differ between runs).
    """
    from . import accounts
    from .extensions import db

    with app.app_context():
        if accounts.find_by_email(DEMO_CITIZEN) is None:
            accounts.create_account(DEMO_CITIZEN, DEMO_PASSWORD, "Erika Mustermann", verified=True,
                                    given_name="Erika", family_name="Mustermann")
            db.session.commit()
        seed_portal_clients(state, ctx["portals"])
        db.session.commit()
        for seeder in app.extensions.get("buergerkonto.demo_seeders", []):
            seeder(app, state, ctx)
            db.session.commit()
    return state


def seed_portal_clients(state: dict, portals: list[dict]) -> None:
    """Register each demo portal as a member client, or bring an earlier registration up to date."""
    from .oidc import clients
    from .oidc.models import Client

    known = state.setdefault("clients", {})
    for portal in portals:
        base = portal["base_url"]
        uris = {"redirect_uris": [base + "/callback"], "post_logout_redirect_uris": [base + "/"],
                "backchannel_logout_uri": base + "/backchannel-logout"}
        entry = known.get(portal["key"])
        row = Client.query.filter_by(client_id=entry["client_id"]).first() if entry else None
        if row is None:
            row, secret = clients.create_client(portal["NAME"], uris["redirect_uris"],
                                                uris["post_logout_redirect_uris"],
                                                uris["backchannel_logout_uri"], municipality=portal["NAME"])
            known[portal["key"]] = {"client_id": row.client_id, "client_secret": secret}
        else:
            metadata, wanted = dict(row.client_metadata), uris | {"municipality": portal["NAME"]}
            if any(metadata.get(k) != v for k, v in wanted.items()):
                row.set_client_metadata(metadata | wanted)


def portal_app(app, portal: dict, issuer: str, state: dict, folder: str | None = None):
    """The demo portal's Flask app for one seeded portal (its session store in ``folder``)."""
    from buergerkonto.examples.portal import create_portal_app

    client = state["clients"][portal["key"]]
    return create_portal_app({
        "NAME": portal["NAME"], "COLOR": portal["COLOR"], "ISSUER": issuer, "BASE_URL": portal["base_url"],
        "CLIENT_ID": client["client_id"], "CLIENT_SECRET": client["client_secret"],
        "SESSION_DB": str(Path(folder or app.instance_path) / f"portal-{portal['key']}.sqlite"),
        "SECRET_KEY": state.setdefault("portal_secret_" + portal["key"], secrets.token_urlsafe(32)),
    })


def start_services(app, state: dict, ctx: dict) -> tuple[list, list[str]]:
    """Start the parts' extra services (the state account); returns (things to stop, lines to print)."""
    started, lines = [], []
    for extra in app.extensions.get("buergerkonto.demo_services", []):
        result = extra(app, state, ctx) or {}
        started.extend(result.get("servers", []))
        lines.extend(result.get("lines", []))
    return started, lines


def credentials_lines(state: dict) -> list[str]:
    lines = [f"  Demo citizen:     {DEMO_CITIZEN} / {DEMO_PASSWORD}"]
    staff = state.get("staff", [])
    if staff:
        lines.append("  Bürgerbüro staff (sign in at /staff; password, then the current code from"
                     " `buergerkonto demo codes` or an authenticator app with the secret):")
    for member in staff:
        lines.append(f"    {member['office']}: {member['email']} / {member['password']}"
                     f"  (TOTP secret {member['totp_secret']})")
    return lines


def run_demo(host: str, port: int) -> None:
    """Migrate, seed, print where to look, and serve until Ctrl-C (or SIGTERM)."""
    from flask_migrate import upgrade

    from .app import create_app

    issuer = f"http://{host}:{port}"
    os.environ.setdefault("BUERGERKONTO_ISSUER", issuer)
    app = create_app()
    if app.config["ENV"] == "production":
        raise DemoRefused("The demo seeds well-known passwords; it does not run with BUERGERKONTO_ENV=production.")
    issuer = app.config["ISSUER"]
    app.config["MAIL_DIR"] = app.config.get("MAIL_DIR") or str(Path(app.instance_path) / "demo-mail")
    with app.app_context():
        upgrade()
    state = load_state(app.instance_path)
    ctx = {"host": host, "port": port, "issuer": issuer, "portals": portal_ports(host, port),
           "upstream_port": port + 3}
    seed(app, state, ctx)
    save_state(app.instance_path, state)

    running = []
    try:
        servers = [Server(app, host, port)]
        lines = [f"  Bürgerkonto:      {issuer}/", f"  Staff counter:    {issuer}/staff"]
        for portal in ctx["portals"]:
            servers.append(Server(portal_app(app, portal, issuer, state), host, port + portal["offset"]))
            lines.append(f"  {portal['NAME'] + ':':17} {portal['base_url']}/")
        extras, extra_lines = start_services(app, state, ctx)
        running.extend(extras)
        lines.extend(extra_lines)
        save_state(app.instance_path, state)
        for server in servers:
            server.start()
            running.append(server)
        lines.extend(credentials_lines(state))
        lines.append(f"  Mail:             written to {app.config['MAIL_DIR']} (one .eml file per message)")
        click.echo("\nBürgerkonto demo is running.\n" + "\n".join(lines) + "\nStop with Ctrl-C.\n", nl=True)

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        for thing in reversed(running):
            thing.stop()
        with app.app_context():
            from .extensions import db

            db.engine.dispose()
        click.echo("Demo stopped.")


def current_codes(instance_path: str) -> list[tuple[str, str]]:
    """The current TOTP code of each demo staff member (for ``buergerkonto demo codes``)."""
    import pyotp

    return [(member["email"], pyotp.TOTP(member["totp_secret"]).now())
            for member in load_state(instance_path).get("staff", [])]
