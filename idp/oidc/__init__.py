"""OpenID Connect provider: Authlib's authorization server, clients, keys, logout."""


def init_app(app):
    """Register the provider's endpoints and hooks on ``app``."""
