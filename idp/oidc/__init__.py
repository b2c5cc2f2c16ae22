"""OpenID Connect provider: Authlib's authorization server, clients, keys, logout."""

DEFAULTS = {
    "OIDC_ACCESS_TOKEN_LIFETIME": 300,
    "OIDC_ID_TOKEN_LIFETIME": 600,
    # Absolute lifetime of a grant's refresh tokens (rotation never extends it).
    "OIDC_REFRESH_TOKEN_LIFETIME": 30 * 24 * 3600,
    "OIDC_LOGOUT_TOKEN_LIFETIME": 120,
    "OIDC_BACKCHANNEL_TIMEOUT": 3,
    "OIDC_BACKCHANNEL_MAX_ATTEMPTS": 5,
}


def init_app(app):
    """Register the provider's endpoints and hooks on ``app``."""
    from ..hooks import Hooks
    from . import account, api_scopes, authorize, cli, descriptions, endpoints, logout, server

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    lifetime = int(app.config["OIDC_ACCESS_TOKEN_LIFETIME"])
    if not 60 <= lifetime <= 600:
        raise ValueError("OIDC_ACCESS_TOKEN_LIFETIME must be between 60 and 600 seconds.")

    api_scopes.init_registry(app)
    descriptions.init_app(app)
    server.build(app)
    app.register_blueprint(authorize.bp)
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(logout.bp)
    app.register_blueprint(account.bp)

    hooks: Hooks = app.extensions["buergerkonto.hooks"]
    hooks.session_ended.append(logout.on_session_ended)
    hooks.after_sessions_ended.append(logout.after_sessions_ended)
    hooks.continuations["oidc_authorize.authorize"] = authorize.authorize_in_place
    hooks.continuations["oidc_authorize.resume"] = authorize.resume_in_place
    hooks.exporters["portals"] = account.export
    hooks.deleters.append(account.delete)
    app.extensions["buergerkonto.account_sections"].append(account.account_section)
    cli.register(app)
