"""The shared postbox: one per citizen, written by every member portal, read everywhere.

``init_app`` registers the postbox scopes with the OpenID Connect provider,
the API and the citizen's pages, the account-page section, export and
deletion hooks, the sign-in hook that indexes portal subjects, and the CLI.
"""

DEFAULTS = {
    # Key-encryption key: 32 bytes, base64. Unset: derived from the service secret (see sealing).
    "POSTBOX_KEK": None,
    # Earlier KEKs still accepted for unwrapping while `keys rotate-postbox` runs.
    "POSTBOX_KEK_PREVIOUS": [],
    # Keep sealed attachment contents in files here instead of in the database.
    "POSTBOX_ATTACHMENT_DIR": None,
    # Deleted messages are purged (`postbox purge`) this many days after deletion.
    "POSTBOX_RETENTION_DAYS": 30,
    # Sends per portal (Flask-Limiter notation); the counters live in RATELIMIT_STORAGE_URI.
    "POSTBOX_SEND_RATE_LIMIT": "600/minute",
}

def init_app(app) -> None:
    from flask_babel import lazy_gettext as _l

    from ..idp.oidc import api_scopes
    from . import api, cli, sealing, service, views

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    sealing.check_configuration(app)

    audience = app.config["ISSUER"] + api.PREFIX
    api_scopes.register(app, api.SCOPE_READ, audience, "citizen", _l("Reading the messages in your postbox"))
    api_scopes.register(app, api.SCOPE_MANAGE, audience, "citizen", _l("Deleting messages in your postbox"))
    api_scopes.register(app, api.SCOPE_SEND, audience, "client", _l("Sending messages to postboxes"))

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)

    hooks = app.extensions["buergerkonto.hooks"]
    hooks.portal_sign_in.append(service.index_subject)
    hooks.exporters["postbox"] = views.export
    hooks.deleters.append(service.delete_account)
    app.extensions["buergerkonto.account_sections"].append(views.account_section)
    cli.register(app)
    app.register_error_handler(sealing.KeyUnavailable, _key_unavailable)


def _key_unavailable(exc):
    """A data key wrapped by a KEK this instance lacks: a configuration fault, said plainly (503)."""
    from flask import render_template
    from flask_babel import gettext as _

    from ..idp.extensions import db
    from ..idp.web import problem, wants_problem_json

    db.session.rollback()
    from flask import current_app

    current_app.logger.error("postbox: %s", exc)
    if wants_problem_json():
        return problem(503, "Service Unavailable", "The message cannot be decrypted at the moment.")
    return render_template("error.html", status=503, title=_("Something went wrong"),
                           message=_("Please try again later.")), 503
