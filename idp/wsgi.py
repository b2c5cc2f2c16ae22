"""WSGI entry point for gunicorn: ``gunicorn buergerkonto.idp.wsgi:app``."""

from .app import create_app

app = create_app()
