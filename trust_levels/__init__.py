"""Trust levels: identity confirmed in person at a Bürgerbüro, asserted to portals.

``init_app`` registers the citizen and staff pages, the hooks the OIDC
provider calls (see ``claims`` for their contracts), the account-page
section, the DSGVO export and deletion, and the CLI commands
(``offices``, ``staff``, ``trust``, ``audit``).
"""

DEFAULTS = {
    # Level an in-person document check gives: "substantial" (default) or "high".
    "TRUST_LEVEL_IN_PERSON": "substantial",
    # OIDC4IDA trust_framework value; see claims.py for what it stands for.
    "TRUST_FRAMEWORK": "de_buergerkonto_pipp",
    # How long a staff set-up link works.
    "STAFF_SETUP_LINK_HOURS": 72,
    # How many days before the document expires the citizen is told.
    "TRUST_EXPIRY_NOTICE_DAYS": 42,
}


def init_app(app):
    from ..idp.hooks import Hooks
    from . import claims, cli, demo, service, views_citizen, views_staff

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    if app.config["TRUST_LEVEL_IN_PERSON"] not in ("substantial", "high"):
        raise ValueError("TRUST_LEVEL_IN_PERSON must be 'substantial' or 'high'.")

    app.register_blueprint(views_citizen.bp)
    app.register_blueprint(views_staff.bp)

    hooks: Hooks = app.extensions["buergerkonto.hooks"]
    hooks.proofing_level.append(claims.proofing_level)
    hooks.verified_claims.append(claims.verified_claims)
    hooks.step_up_options.append(claims.step_up_options)
    hooks.discovery.append(claims.discovery_metadata)
    hooks.exporters["identity_verification"] = service.export
    hooks.deleters.append(service.delete_for_account)
    app.extensions["buergerkonto.account_sections"].append(views_citizen.account_section)
    cli.register(app)
    app.extensions.setdefault("buergerkonto.demo_seeders", []).append(demo.seed)
