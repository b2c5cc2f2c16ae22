"""A small municipal portal: a relying party of the Bürgerkonto built with Authlib's Flask client."""

from .app import create_portal_app

__all__ = ["create_portal_app"]
