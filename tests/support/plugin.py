"""Pytest fixtures shared by every test folder (loaded with ``-p support.plugin``).

Each test process starts one PostgreSQL server and one SMTP server. The schema
is built once per backend by running the Alembic migrations into a template;
every test then gets a fresh copy (``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL, a file copy on SQLite), so tests are isolated yet cheap, and the
app commits for real.
"""

import os
import shutil
import uuid

import pytest

from .browser import Browser
from .servers import PostgresServer, SmtpServer

BACKENDS = ("sqlite", "postgresql")
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789abcdef"


def pytest_addoption(parser):
    parser.addoption("--backends", default=os.environ.get("BUERGERKONTO_TEST_BACKENDS", ",".join(BACKENDS)),
                     help="comma-separated database backends to run app tests on")


def pytest_generate_tests(metafunc):
    if "database_url" in metafunc.fixturenames:
        backends = [b for b in metafunc.config.getoption("--backends").split(",") if b]
        metafunc.parametrize("backend", backends, scope="function")


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory):
    """No developer settings leak in; the instance folder is a temporary one."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("BUERGERKONTO_")}
    for key in saved:
        del os.environ[key]
    os.environ["BUERGERKONTO_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    yield
    os.environ.pop("BUERGERKONTO_INSTANCE_PATH", None)
    os.environ.update(saved)


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server):
    """The SMTP server, emptied. Mail arrives in the background after the response:
    read it with ``wait_for``/``link`` (they wait), and call ``settle()`` before asserting
    that nothing was sent."""
    smtp_server.clear()
    return smtp_server


def base_config(database_url: str, smtp_port: int | None = None) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ISSUER": "http://localhost",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_port or 9,
        "RATELIMIT_ENABLED": False,
        # Cheap argon2id for speed; tests/idp/test_passwords.py pins the production parameters.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 1024,
    }


def _migrate(database_url: str) -> None:
    from flask_migrate import upgrade

    from buergerkonto.idp import create_app
    from buergerkonto.idp.extensions import db

    app = create_app(base_config(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres):
    postgres.execute("CREATE DATABASE bk_template")
    _migrate(postgres.url("bk_template"))
    return "bk_template"


@pytest.fixture
def database_url(backend, request, tmp_path):
    """A freshly migrated database of the parametrised backend, dropped afterwards."""
    if backend == "sqlite":
        path = tmp_path / "test.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    postgres = request.getfixturevalue("postgres")
    template = request.getfixturevalue("postgres_template")
    name = "t_" + uuid.uuid4().hex[:16]
    postgres.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield postgres.url(name)
    postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def app_config(database_url, smtp):
    """Override in a test module to change settings."""
    return base_config(database_url, smtp.port)


@pytest.fixture
def app(app_config):
    from buergerkonto.idp import create_app

    app = create_app(app_config)
    yield app
    close_app(app)


@pytest.fixture
def make_app(app_config):
    """``make_app(SETTING=...)``: another app on the test's database with changed settings; closed afterwards."""
    from buergerkonto.idp import create_app

    made = []

    def make(**overrides):
        made.append(create_app(app_config | overrides))
        return made[-1]

    yield make
    for app in made:
        close_app(app)


def close_app(app) -> None:
    """End an app a test made: its mail courier finishes and stops first (it must not outlive the test
    or write into the next test's database), then its sessions and connections are closed."""
    from buergerkonto.idp import courier
    from buergerkonto.idp.extensions import db

    assert courier.shutdown(app, timeout=60), "the mail courier was still busy 60 s after the test"
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_account(app):
    """Create a verified account: ``make_account("a@example.org", "password", totp=False)``."""
    from buergerkonto.idp import accounts
    from buergerkonto.idp.extensions import db

    def make(email=None, password="Lange-Passphrase-2026", name=None, **fields):
        email = email or f"citizen-{uuid.uuid4().hex[:8]}@example.org"
        with app.app_context():
            account = accounts.create_account(email, password, name, verified=True)
            for key, value in fields.items():
                setattr(account, key, value)
            db.session.commit()
            return {"id": account.id, "uuid": account.uuid, "email": account.email, "password": password}

    return make


def enable_totp(app, account_id: int) -> str:
    """Switch two-step sign-in on for the account behind the pages' back; returns the authenticator's secret."""
    import pyotp

    from buergerkonto.idp import totp
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.models import Account
    from buergerkonto.idp.timeutil import utcnow

    secret = pyotp.random_base32()
    with app.app_context():
        account = db.session.get(Account, account_id)
        account.totp_secret = totp.encrypt_secret(secret, account.id)
        account.totp_enabled_at = utcnow()
        db.session.commit()
    return secret


def sign_in(browser: Browser, email: str, password: str, next_url: str = "/account"):
    """Sign in through the form like a citizen; returns the final response."""
    response = browser.submit(f"/sign-in?next={next_url}", {"email": email, "password": password})
    return response


@pytest.fixture
def citizen(browser, make_account):
    """A browser signed in as a fresh verified account; returns the account dict
    (also on ``browser.account``)."""
    account = make_account()
    response = sign_in(browser, account["email"], account["password"])
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    browser.account = account
    return account


@pytest.fixture
def signed_in(browser, make_account):
    """A browser signed in as a fresh verified account; the account dict is on ``browser.account``."""
    account = make_account()
    response = sign_in(browser, account["email"], account["password"])
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    browser.account = account
    return browser
