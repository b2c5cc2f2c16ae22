"""The ``buergerkonto`` console script: a Flask CLI group with the operator's commands."""

import json
import os
import shutil
import sys

import click
from flask.cli import FlaskGroup, with_appcontext

from . import accounts, mail
from .extensions import db


def _create_app():
    """Build the app; an unsafe configuration ends the command with its message, not a traceback."""
    from .app import create_app
    from .config import ConfigurationError

    try:
        return create_app()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             add_version_option=False)
def main():
    """Bürgerkonto: citizen account and OpenID Connect provider for municipal portals."""


def emit(as_json: bool, payload: dict, text: str) -> None:
    """Print one JSON object (for scripts) or a sentence (for people)."""
    click.echo(json.dumps(payload, ensure_ascii=False) if as_json else text)


def fail(message: str) -> None:
    raise click.ClickException(message)


# Threads per gunicorn worker. Two: one runs while the other waits for PostgreSQL or an upstream
# provider. More made every request dearer on two cores (the GIL handed over more often, more database
# backends awake at once): alternating 4 and 2 threads under wrk, client credentials ran about
# 1,290 against 1,470/s, refresh 680 against 730/s (bench/RESULTS.md, session 5). Raise it when the
# database is far away (a longer round trip leaves a core idle) or upstream calls are slow.
SERVE_THREADS = 2


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers")
@click.option("--threads", default=SERVE_THREADS, show_default=True, type=int, help="threads per gunicorn worker")
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.option("--dev", is_flag=True, help="Use Flask's development server even when gunicorn is there.")
def serve(host, port, workers, threads, access_log, dev):
    """Serve the Bürgerkonto (gunicorn where available, else Flask's server)."""
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if gunicorn and not dev:
        # Threaded workers: a sync worker idles in its graceful close after every response.
        # One listening socket per worker (SO_REUSEPORT): the kernel spreads new connections
        # over the workers. On one shared socket the first worker to wake took most of the
        # kept-alive connections (16:0 seen under wrk) and ran on one core while the other idled.
        args = [gunicorn, "--bind", f"{host}:{port}", "--workers", str(workers),
                "--worker-class", "gthread", "--threads", str(threads), "--reuse-port",
                # gunicorn 27's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl):
                # a second instance of the same user took it over. Nothing here uses it.
                "--no-control-socket"]
        if access_log:  # gunicorn's access line, with the secrets in addresses redacted
            args += ["--access-logfile", "-", "--logger-class", "buergerkonto.idp.request_log.GunicornLogger"]
        os.execv(gunicorn, args + ["buergerkonto.idp.wsgi:app"])
    _create_app().run(host=host, port=port, debug=False, use_reloader=False)


@main.group("accounts")
def accounts_group():
    """Citizen accounts."""


@accounts_group.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, help="Read from the prompt when given as '-'.")
@click.option("--name", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def accounts_create(email, password, name, as_json):
    """Create an account whose e-mail address counts as verified."""
    if password == "-":
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        email = accounts.normalise_email(email)
    except accounts.InvalidEmail:
        fail("The e-mail address is not valid.")
    if accounts.find_by_email(email) is not None:
        fail("An account with this e-mail address exists already.")
    try:
        account = accounts.create_account(email, password, name, verified=True)
    except accounts.PasswordRejected as exc:
        fail(f"Password refused: {exc}")
    db.session.commit()
    emit(as_json, {"id": account.uuid, "email": account.email}, f"Created account {account.uuid} for {account.email}.")


@main.group("mail")
def mail_group():
    """Outgoing mail."""


@mail_group.command("deliver")
@with_appcontext
def mail_deliver():
    """Deliver mail still pending (after an SMTP outage)."""
    click.echo(f"{mail.deliver_pending(limit=10_000)} message(s) delivered.")


@main.group("demo", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int,
              help="The Bürgerkonto's port; the portals use the next two, the state account the third.")
@click.pass_context
def demo(ctx, host, port):
    """Start the service, two demo portals and (with Node.js) a state account, with demo data on SQLite."""
    if ctx.invoked_subcommand is not None:
        return
    from .demo import run_demo

    run_demo(host, port)


@demo.command("codes")
def demo_codes():
    """Print the current sign-in code of each demo staff member (demo data only)."""
    from flask import current_app

    from .demo import current_codes

    codes = current_codes(current_app.instance_path)
    if not codes:
        raise click.ClickException("No demo data here: run `buergerkonto demo` first.")
    for email, code in codes:
        click.echo(f"{email}: {code}")
