"""``buergerkonto demo``: the whole portal network on one machine, with demo data on SQLite.

It starts the Bürgerkonto and two demo portals ("Stadt Leer", "Landkreis
Leer"), each a separate relying party on its own port, seeds a district and
two towns with their Bürgerbüros and staff, a demo citizen, and registers the
portals as clients. Secrets of the seeded clients and staff are kept in the
instance folder (``demo.json``), so a second run finds everything again.
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


class _Server(threading.Thread):
    """A threaded WSGI server on loopback that stops on request."""

    def __init__(self, app, host: str, port: int):
        super().__init__(daemon=True)
        self.server = make_server(host, port, app, threaded=True)

    def run(self):
        self.server.serve_forever()

    def stop(self):
        self.server.shutdown()


def _load_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _save_state(path: Path, state: dict) -> None:
    path.write_text(json.dumps(state, indent=2))
    os.chmod(path, 0o600)


def seed(app, host: str, port: int) -> dict:
    """Create what the demo needs, once; return the state (client secrets, staff credentials)."""
    from . import accounts
    from .extensions import db

    state_path = Path(app.instance_path) / "demo.json"
    state = _load_state(state_path)
    with app.app_context():
        if accounts.find_by_email(DEMO_CITIZEN) is None:
            accounts.create_account(DEMO_CITIZEN, DEMO_PASSWORD, "Erika Mustermann", verified=True,
                                    given_name="Erika", family_name="Mustermann")
            db.session.commit()
        for seeder in app.extensions.get("buergerkonto.demo_seeders", []):
            seeder(app, state, {"host": host, "port": port, "portals": PORTALS})
            db.session.commit()
    _save_state(state_path, state)
    return state


def run_demo(host: str, port: int) -> None:
    """Migrate, seed, print where to look, and serve until Ctrl-C."""
    from flask_migrate import upgrade

    from .app import create_app

    issuer = f"http://{host}:{port}"
    os.environ.setdefault("BUERGERKONTO_ISSUER", issuer)
    app = create_app()
    app.config["MAIL_DIR"] = app.config.get("MAIL_DIR") or str(Path(app.instance_path) / "demo-mail")
    with app.app_context():
        upgrade()
    state = seed(app, host, port)

    servers = [_Server(app, host, port)]
    lines = [f"  Bürgerkonto:      {issuer}/"]
    for portal in PORTALS:
        client = state.get("clients", {}).get(portal["key"])
        if not client:
            continue
        from buergerkonto.examples.portal import create_portal_app

        portal_port = port + portal["offset"]
        base = f"http://{host}:{portal_port}"
        portal_app = create_portal_app({
            "NAME": portal["NAME"], "COLOR": portal["COLOR"], "ISSUER": issuer, "BASE_URL": base,
            "CLIENT_ID": client["client_id"], "CLIENT_SECRET": client["client_secret"],
            "SESSION_DB": str(Path(app.instance_path) / f"portal-{portal['key']}.sqlite"),
            "SECRET_KEY": state.setdefault("portal_secret_" + portal["key"], secrets.token_urlsafe(32)),
        })
        servers.append(_Server(portal_app, host, portal_port))
        lines.append(f"  {portal['NAME'] + ':':17} {base}/")
    for extra in app.extensions.get("buergerkonto.demo_services", []):
        started = extra(app, state, {"host": host, "port": port})
        if started:
            servers.extend(started.get("servers", []))
            lines.extend(started.get("lines", []))
    _save_state(Path(app.instance_path) / "demo.json", state)

    for server in servers:
        server.start()
    lines.append(f"  Demo citizen:     {DEMO_CITIZEN} / {DEMO_PASSWORD}")
    for staff in state.get("staff", []):
        lines.append(f"  Staff ({staff['office']}): {staff['email']} / {staff['password']}")
    lines.append(f"  Mail:             written to {app.config['MAIL_DIR']} (one .eml file per message)")
    click.echo("\nBürgerkonto demo is running.\n" + "\n".join(lines) + "\nStop with Ctrl-C.\n")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
        click.echo("Demo stopped.")
