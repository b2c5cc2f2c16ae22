"""Configuration: defaults, then the instance file, then the environment, then a test dict.

Every setting can come from an environment variable with the prefix
``BUERGERKONTO_`` (``BUERGERKONTO_DATABASE_URL``, ``BUERGERKONTO_ISSUER``, ...).
With nothing set the service runs on SQLite in its instance folder with a
secret key generated on first start and kept there.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

ENV_PREFIX = "BUERGERKONTO"

# Values that must never protect a production deployment.
_WEAK_SECRETS = {"", "dev", "changeme", "change-me", "secret", "test", "development"}


MAIL_DELIVERY_MODES = ("background", "inline")


class ConfigurationError(RuntimeError):
    """The configuration is unsafe or incomplete; the service refuses to start."""


DEFAULTS = {
    "ENV": "development",
    "ISSUER": "http://127.0.0.1:5000",
    # No pre-ping: it costs a round trip on every request (a fifth of a token request's time).
    # Connections are recycled instead, and a connection found dead is dropped with its pool,
    # so after a database restart at most one request per pooled connection fails.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False, "pool_recycle": 300},
    "SESSION_COOKIE_NAME": "bk_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_IDLE_TIMEOUT": timedelta(minutes=30),
    "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=12),
    "STAFF_SESSION_IDLE_TIMEOUT": timedelta(minutes=10),
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "BABEL_DEFAULT_LOCALE": "de",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin",
    "LANGUAGES": ["de", "en"],
    # Absolute, inside the package: found alike from a checkout, an editable or a wheel install.
    "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parent / "translations"),
    # argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1) or stronger.
    "ARGON2_MEMORY_KIB": 19 * 1024,
    "ARGON2_TIME_COST": 2,
    "ARGON2_PARALLELISM": 1,
    # argon2id runs at once per process, each on a thread of its own that keeps its
    # ARGON2_MEMORY_KIB buffer (passwords._hashing_threads).
    "ARGON2_CONCURRENCY": 1,
    # Seconds a worker keeps clients, keys, JWKS, discovery and upstream settings (idp.cache).
    "CACHE_SECONDS": 10,
    # Seconds a worker keeps a portal's key set fetched from its jwks_uri (idp.oidc.client_keys).
    "OIDC_CLIENT_JWKS_SECONDS": 300,
    # Brute-force protection (Keycloak's design): after FREE_FAILURES failures the
    # wait doubles per further failure, starting at BASE seconds, capped at MAX.
    "THROTTLE_FREE_FAILURES": 5,
    "THROTTLE_BASE_SECONDS": 30,
    "THROTTLE_MAX_SECONDS": 900,
    "THROTTLE_RESET_SECONDS": 12 * 3600,
    "THROTTLE_IP_FREE_FAILURES": 20,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "EMAIL_CONFIRM_MAX_AGE": 24 * 3600,
    "PASSWORD_RESET_MAX_AGE": 3600,
    "MAIL_FROM": "Bürgerkonto <no-reply@buergerkonto.invalid>",
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "SMTP_SSL": False,
    "SMTP_TIMEOUT": 10,
    "MAIL_DIR": None,
    # "background": a thread per process delivers after the request's commit (the response does not
    # wait for the mail server); "inline": the request delivers after its commit (no threads).
    "MAIL_DELIVERY": "background",
    "MUNICIPALITY_NAMES": ["Leer", "Landkreis Leer", "Moormerland", "Westoverledingen"],
    "TRUSTED_PROXIES": 0,
}


def load_config(app, test_config=None):
    """Fill ``app.config`` in order: defaults, instance file, environment, test dict."""
    app.config.update(DEFAULTS)
    instance = Path(app.instance_path)
    app.config.from_pyfile(instance / "config.py", silent=True)
    app.config.from_prefixed_env(prefix=ENV_PREFIX)
    if test_config:
        app.config.update(test_config)

    if app.config.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'buergerkonto.sqlite'}"
    app.config["ISSUER"] = str(app.config["ISSUER"]).rstrip("/")

    if not app.config.get("SECRET_KEY"):
        if app.config["ENV"] == "production":
            raise ConfigurationError(
                "BUERGERKONTO_SECRET_KEY must be set in production (at least 32 random characters)."
            )
        app.config["SECRET_KEY"] = _instance_secret(instance)
    if app.config["MAIL_DELIVERY"] not in MAIL_DELIVERY_MODES:
        raise ConfigurationError(f"MAIL_DELIVERY must be one of {', '.join(MAIL_DELIVERY_MODES)}.")
    _durations(app.config)
    _check_production(app.config)
    _cookie_settings(app.config)


def _durations(config):
    """Durations arrive from the environment as numbers of seconds (``from_prefixed_env`` reads
    ``1800`` as an int), and a timedelta is what the code adds to times: convert, or refuse at start
    rather than fail on every request."""
    for key, default in DEFAULTS.items():
        value = config[key]
        if not isinstance(default, timedelta) or isinstance(value, timedelta):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigurationError(f"{key} must be a positive number of seconds.")
        config[key] = timedelta(seconds=value)


def _instance_secret(instance: Path) -> str:
    """Return the secret kept in the instance folder, creating it once."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _check_production(config):
    """Refuse to run a production deployment with unsafe settings."""
    if config["ENV"] != "production":
        return
    secret = str(config["SECRET_KEY"])
    if secret.lower() in _WEAK_SECRETS or len(secret) < 32:
        raise ConfigurationError(
            "Refusing to start: the secret key is a default or shorter than 32 characters."
        )
    if not config["ISSUER"].startswith("https://"):
        raise ConfigurationError("Refusing to start: the issuer must be an https URL in production.")


def _cookie_settings(config):
    """Secure cookies with the ``__Host-`` prefix whenever the service is served over https."""
    if config["ISSUER"].startswith("https://"):
        config["SESSION_COOKIE_SECURE"] = True
        if not config["SESSION_COOKIE_NAME"].startswith("__Host-"):
            config["SESSION_COOKIE_NAME"] = "__Host-" + config["SESSION_COOKIE_NAME"]
        config["SESSION_COOKIE_PATH"] = "/"
        config.setdefault("SESSION_COOKIE_DOMAIN", None)
