"""``buergerkonto demo``: the service on SQLite with demo data, ready to try."""

import os
from pathlib import Path

import click

DEMO_PASSWORD = "Demo-Buergerkonto-2026"
DEMO_CITIZEN = "erika.mustermann@example.org"


def run_demo(host: str, port: int) -> None:
    """Migrate, seed (idempotently), print where to look, and serve until Ctrl-C."""
    from flask_migrate import upgrade

    from . import accounts
    from .app import create_app
    from .extensions import db

    issuer = f"http://{host}:{port}"
    os.environ.setdefault("BUERGERKONTO_ISSUER", issuer)
    app = create_app()
    mail_dir = Path(app.instance_path) / "demo-mail"
    app.config.setdefault("MAIL_DIR", None)
    app.config["MAIL_DIR"] = app.config["MAIL_DIR"] or str(mail_dir)
    with app.app_context():
        upgrade()
        if accounts.find_by_email(DEMO_CITIZEN) is None:
            accounts.create_account(DEMO_CITIZEN, DEMO_PASSWORD, "Erika Mustermann", verified=True,
                                    given_name="Erika", family_name="Mustermann")
            db.session.commit()
    click.echo(
        "\nBürgerkonto demo is running.\n"
        f"  Open:            {issuer}/\n"
        f"  Demo citizen:    {DEMO_CITIZEN} / {DEMO_PASSWORD}\n"
        f"  Mail goes to:    {app.config['MAIL_DIR']} (one .eml file per message)\n"
        f"  Database:        {app.config['SQLALCHEMY_DATABASE_URI']}\n"
        "Stop with Ctrl-C.\n"
    )
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False)
    except KeyboardInterrupt:
        pass
