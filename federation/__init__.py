"""Federation with the Land's service account (Servicekonto): an upstream OpenID Connect provider.

Citizens sign in there (with the eID of their ID card, for instance), link that
identity to a Bürgerkonto, and bring its level and verified attributes along.
"""


def init_app(app):
    """Register pages, hooks, the account-page section, the sign-in button and the CLI."""
    from ..idp.hooks import Hooks
    from . import cli, demo, integration, models  # noqa: F401 - models must be known to the metadata
    from .settings import display_name
    from .views import bp

    app.register_blueprint(bp)
    # Every federation page names the upstream as citizens know it, when the operator configured a name.
    app.add_template_global(display_name, "upstream_name")
    app.cli.add_command(cli.upstream_group)
    hooks: Hooks = app.extensions["buergerkonto.hooks"]
    hooks.session_level.append(integration.session_level)
    hooks.step_up_options.append(integration.step_up_options)
    hooks.discovery.append(integration.discovery_metadata)
    hooks.proofing_level.append(integration.proofing_level)
    hooks.verified_claims.append(integration.verified_claims)
    hooks.session_ended.append(integration.session_ended)
    hooks.after_sessions_ended.append(integration.after_sessions_ended)
    hooks.exporters["federation"] = integration.export
    hooks.deleters.append(integration_delete)
    hooks.purgers["federation_sessions"] = integration_purge
    hooks.purgers["federation_logout_tokens"] = integration_purge_logout_tokens
    app.extensions["buergerkonto.account_sections"].append(integration.account_section)
    app.context_processor(integration.sign_in_extras)
    app.extensions.setdefault("buergerkonto.demo_services", []).append(demo.start)
    app.config.setdefault("UPSTREAM_TIMEOUT", 3)
    app.config.setdefault("UPSTREAM_METADATA_TTL", 3600)
    app.config.setdefault("UPSTREAM_JWKS_MIN_REFETCH", 60)
    app.config.setdefault("UPSTREAM_JWKS_TTL", 600)
    app.config.setdefault("UPSTREAM_CLOCK_SKEW", 60)
    app.config.setdefault("UPSTREAM_LOGOUT_TOKEN_MAX_AGE", 300)
    app.config.setdefault("UPSTREAM_TRUST_FRAMEWORK", "eidas")


def integration_delete(account):
    from .service import delete_for_account

    delete_for_account(account)


def integration_purge() -> int:
    from .service import purge_sessions

    return purge_sessions()


def integration_purge_logout_tokens() -> int:
    from .service import purge_logout_tokens

    return purge_logout_tokens()
