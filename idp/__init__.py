"""Identity provider core: accounts, sign-in, sessions and the OpenID Connect provider."""

from .app import create_app

__all__ = ["create_app"]
