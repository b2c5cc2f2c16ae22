"""Configuration: where settings come from, the generated secret, and what production refuses."""

import os
import stat
from datetime import timedelta

import pytest
from click.testing import CliRunner

from buergerkonto.idp import create_app
from buergerkonto.idp.config import ConfigurationError
from support.browser import Browser
from support.plugin import TEST_SECRET, base_config, close_app, sign_in

STRONG_SECRET = "Zq8v0-5a1Yc7Kp2Lw9Xn4Rt6Bm3Hd8Fj"  # 34 random-looking characters


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An empty instance folder and no BUERGERKONTO_* settings but its path."""
    for key in [k for k in os.environ if k.startswith("BUERGERKONTO_")]:
        monkeypatch.delenv(key)
    folder = tmp_path / "instance"
    monkeypatch.setenv("BUERGERKONTO_INSTANCE_PATH", str(folder))
    return folder


def test_with_nothing_set_it_runs_on_sqlite_in_the_instance_folder(instance):
    app = create_app()
    assert app.instance_path == str(instance)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'buergerkonto.sqlite'}"
    assert app.config["ENV"] == "development"


def test_secret_is_generated_once_and_kept_in_the_instance_folder(instance):
    first = create_app().config["SECRET_KEY"]
    secret_file = instance / "secret_key"
    assert secret_file.read_text().strip() == first
    assert len(first) >= 32
    # Only the service's user may read it.
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # A restart (or a second process) uses the same secret: sessions and links stay valid.
    assert create_app().config["SECRET_KEY"] == first


def test_secret_differs_between_instance_folders(tmp_path, monkeypatch, instance):
    first = create_app().config["SECRET_KEY"]
    monkeypatch.setenv("BUERGERKONTO_INSTANCE_PATH", str(tmp_path / "other"))
    assert create_app().config["SECRET_KEY"] != first


def test_environment_variables_set_the_configuration(instance, monkeypatch, tmp_path):
    monkeypatch.setenv("BUERGERKONTO_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    monkeypatch.setenv("BUERGERKONTO_ISSUER", "http://portal.example:8080/")
    monkeypatch.setenv("BUERGERKONTO_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("BUERGERKONTO_THROTTLE_FREE_FAILURES", "3")
    monkeypatch.setenv("BUERGERKONTO_SMTP_HOST", "mail.example")
    config = create_app().config
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    assert config["ISSUER"] == "http://portal.example:8080"  # trailing slash trimmed
    assert config["SECRET_KEY"] == STRONG_SECRET
    assert config["THROTTLE_FREE_FAILURES"] == 3  # numbers arrive as numbers
    assert config["SMTP_HOST"] == "mail.example"
    # An explicit secret is used as is; nothing is written to the instance folder.
    assert not (instance / "secret_key").exists()


def test_durations_from_the_environment_are_seconds(instance, monkeypatch):
    monkeypatch.setenv("BUERGERKONTO_SESSION_IDLE_TIMEOUT", "900")
    monkeypatch.setenv("BUERGERKONTO_STAFF_SESSION_IDLE_TIMEOUT", "300.5")
    config = create_app().config
    assert config["SESSION_IDLE_TIMEOUT"] == timedelta(minutes=15)
    assert config["STAFF_SESSION_IDLE_TIMEOUT"] == timedelta(seconds=300.5)
    assert config["SESSION_ABSOLUTE_TIMEOUT"] == timedelta(hours=12)  # the default stays


@pytest.mark.parametrize("value", ['"30 minutes"', "0", "-5", "true"])
def test_a_duration_that_is_not_seconds_refuses_to_start(instance, monkeypatch, value):
    monkeypatch.setenv("BUERGERKONTO_SESSION_IDLE_TIMEOUT", value)
    with pytest.raises(ConfigurationError, match="SESSION_IDLE_TIMEOUT"):
        create_app()


def test_a_session_idle_timeout_in_seconds_works_for_a_signed_in_page(instance, monkeypatch, database_url, smtp,
                                                                      make_account_factory):
    monkeypatch.setenv("BUERGERKONTO_SESSION_IDLE_TIMEOUT", "900")
    app = create_app(base_config(database_url, smtp.port))
    try:
        account = make_account_factory(app)
        browser = Browser(app.test_client())
        assert sign_in(browser, account["email"], account["password"]).status_code == 302
        assert browser.get("/account").status_code == 200
    finally:
        close_app(app)


def test_instance_file_then_environment_then_test_dict(instance, monkeypatch):
    instance.mkdir(parents=True)
    (instance / "config.py").write_text(
        'ISSUER = "http://from-file.example"\n'
        'SMTP_HOST = "file-smtp.example"\n'
        'MAIL_FROM = "file@example.org"\n'
    )
    assert create_app().config["ISSUER"] == "http://from-file.example"

    monkeypatch.setenv("BUERGERKONTO_ISSUER", "http://from-env.example")
    monkeypatch.setenv("BUERGERKONTO_SMTP_HOST", "env-smtp.example")
    config = create_app({"SMTP_HOST": "dict-smtp.example"}).config
    assert config["ISSUER"] == "http://from-env.example"  # environment beats the file
    assert config["SMTP_HOST"] == "dict-smtp.example"  # the test dict beats everything
    assert config["MAIL_FROM"] == "file@example.org"  # the file beats the defaults


@pytest.mark.parametrize("secret", [None, "", "changeme", "secret", "dev", "short-but-random-7"])
def test_production_refuses_a_missing_default_or_short_secret(instance, monkeypatch, secret):
    monkeypatch.setenv("BUERGERKONTO_ENV", "production")
    monkeypatch.setenv("BUERGERKONTO_ISSUER", "https://konto.example")
    if secret is not None:
        monkeypatch.setenv("BUERGERKONTO_SECRET_KEY", secret)
    with pytest.raises(ConfigurationError):
        create_app()
    # Production never falls back to a generated secret.
    assert not (instance / "secret_key").exists()


@pytest.mark.parametrize("issuer", ["http://konto.example", "konto.example", "ftp://konto.example"])
def test_production_refuses_an_issuer_without_https(instance, monkeypatch, issuer):
    monkeypatch.setenv("BUERGERKONTO_ENV", "production")
    monkeypatch.setenv("BUERGERKONTO_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("BUERGERKONTO_ISSUER", issuer)
    with pytest.raises(ConfigurationError, match="https"):
        create_app()


def test_production_starts_with_a_strong_secret_and_https_issuer(instance, monkeypatch):
    monkeypatch.setenv("BUERGERKONTO_ENV", "production")
    monkeypatch.setenv("BUERGERKONTO_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("BUERGERKONTO_ISSUER", "https://konto.example")
    config = create_app().config
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_NAME"].startswith("__Host-")


def test_cli_refuses_production_without_secret_with_a_clear_message(instance, monkeypatch):
    from buergerkonto.idp.cli import main

    monkeypatch.setenv("BUERGERKONTO_ENV", "production")
    monkeypatch.setenv("BUERGERKONTO_ISSUER", "https://konto.example")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "BUERGERKONTO_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_http_issuer_keeps_a_plain_cookie_name(instance):
    config = create_app({"ISSUER": "http://127.0.0.1:5000", "SECRET_KEY": TEST_SECRET}).config
    assert not config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert not config.get("SESSION_COOKIE_SECURE")


def _set_cookie_headers(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_https_issuer_sets_a_host_prefixed_secure_cookie(database_url, smtp, make_account_factory):
    config = {**base_config(database_url, smtp.port), "ISSUER": "https://konto.example"}
    app = create_app(config)
    try:
        account = make_account_factory(app)
        client = app.test_client()
        from support.browser import Browser

        browser = Browser(client, base="https://localhost")
        client.environ_base["wsgi.url_scheme"] = "https"
        page = browser.get("https://localhost/sign-in")
        response = browser.submit_page(page, {"email": account["email"], "password": account["password"]})
        assert response.status_code == 302
        cookie = [c for c in _set_cookie_headers(response) if c.startswith("__Host-bk_session=")]
        assert cookie, _set_cookie_headers(response)
        attributes = [part.strip().lower() for part in cookie[-1].split(";")]
        assert "secure" in attributes
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert not any(a.startswith("domain=") for a in attributes)  # __Host- forbids Domain
    finally:
        with app.app_context():
            from buergerkonto.idp.extensions import db

            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def make_account_factory():
    """Create a verified account on any app (for tests that build their own app)."""
    from buergerkonto.idp import accounts
    from buergerkonto.idp.extensions import db

    def make(app, email="cookie@example.org", password="Keks-im-Glas-2026"):
        with app.app_context():
            accounts.create_account(email, password, None, verified=True)
            db.session.commit()
        return {"email": email, "password": password}

    return make


def test_http_cookie_is_httponly_and_samesite_lax_without_secure(browser, make_account):
    account = make_account()
    response = sign_in(browser, account["email"], account["password"])
    cookies = [c for c in _set_cookie_headers(response) if c.startswith("bk_session=")]
    assert cookies
    attributes = [part.strip().lower() for part in cookies[-1].split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "secure" not in attributes


def test_https_issuer_sends_hsts(database_url, smtp):
    app = create_app({**base_config(database_url, smtp.port), "ISSUER": "https://konto.example"})
    try:
        response = app.test_client().get("/sign-in", base_url="https://localhost")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        with app.app_context():
            from buergerkonto.idp.extensions import db

            db.engine.dispose()
