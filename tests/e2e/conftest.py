"""A live portal network and a real browser for the end-to-end tests.

Per test worker, once: the Bürgerkonto, the two demo portals ("Stadt Leer",
"Landkreis Leer") and an external portal, each a real HTTP server on a free
loopback port, seeded by the demo's own functions (``idp/demo.py``) on a
migrated SQLite database; mail goes to the loopback SMTP server. The browser
is Debian's chromium driven by Playwright, headless.

The journey tests register their own citizens, so the tests of one worker
share the network without sharing state that matters.
"""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.plugin import base_config, close_app
from support.servers import free_port

from e2e.audit import Auditor

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class Network:
    issuer: str
    portals: dict  # key -> base URL
    app: object
    state: dict
    smtp: object
    external: str = ""
    servers: list = field(default_factory=list)

    @property
    def staff(self) -> list[dict]:
        return self.state["staff"]


@pytest.fixture(scope="session")
def network(tmp_path_factory, sqlite_template, smtp_server):
    from buergerkonto.idp import create_app, demo
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    folder = tmp_path_factory.mktemp("network")
    shutil.copyfile(sqlite_template, folder / "bk.sqlite")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_app(base_config(f"sqlite:///{folder / 'bk.sqlite'}", smtp_server.port)
                     | {"ISSUER": issuer, "TESTING": False})
    portals = [dict(p, base_url=f"http://127.0.0.1:{free_port()}") for p in demo.PORTALS]
    state = {}
    demo.seed(app, state, {"host": "127.0.0.1", "port": port, "issuer": issuer, "portals": portals})

    # An external portal (not a member of the network): citizens are asked for consent there.
    external = {"key": "verein", "NAME": "Heimatverein Leer e. V.", "COLOR": "#3b3b6b",
                "base_url": f"http://127.0.0.1:{free_port()}"}
    with app.app_context():
        row, secret = clients.create_client(external["NAME"], [external["base_url"] + "/callback"],
                                            [external["base_url"] + "/"], external=True,
                                            scope="openid profile email postbox.read")
        state["clients"]["verein"] = {"client_id": row.client_id, "client_secret": secret}
        db.session.commit()

    servers = [demo.Server(app, "127.0.0.1", port)]
    for portal in portals + [external]:
        web = demo.portal_app(app, portal, issuer, state, folder=str(folder))
        servers.append(demo.Server(web, "127.0.0.1", int(portal["base_url"].rsplit(":", 1)[1])))
    for server in servers:
        server.start()
    yield Network(issuer=issuer, portals={p["key"]: p["base_url"] for p in portals}, app=app, state=state,
                  smtp=smtp_server, external=external["base_url"], servers=servers)
    for server in servers:
        server.stop()
    close_app(app)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_context(chromium):
    """``new_context(locale)``: a fresh browser profile (own cookies); axe may be injected (CSP bypassed)."""
    made = []

    def make(locale: str = "de-DE"):
        context = chromium.new_context(locale=locale, bypass_csp=True, viewport={"width": 1024, "height": 800},
                                       accept_downloads=True)
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def axe():
    """``axe(page, what)``: run axe-core's WCAG 2.1 A/AA rules on the page; fail on any violation."""
    return Auditor()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: save the page as docs/screenshots/<name>.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
