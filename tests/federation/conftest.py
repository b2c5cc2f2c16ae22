"""Fixtures for the federation tests: a real upstream OpenID Connect provider (oidc-provider on Node).

The upstream is started once per test process on a loopback port and reset
before and after every test (see ``support/upstream/harness.py``).
"""

import pytest
import requests

from support.plugin import base_config
from support.upstream.harness import (CLIENT_ID, CLIENT_SECRET, Upstream, UpstreamBrowser, start_upstream,
                                      stop_upstream)


@pytest.fixture(scope="session")
def upstream(tmp_path_factory):
    try:
        upstream = start_upstream(tmp_path_factory.mktemp("upstream"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield upstream
    stop_upstream(upstream)


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream):
    upstream.admin("reset")
    yield
    upstream.admin("reset")


def upstream_config(upstream: Upstream, name: str | None = None) -> dict:
    return {
        "UPSTREAM_ISSUER": upstream.issuer,
        "UPSTREAM_CLIENT_ID": CLIENT_ID,
        "UPSTREAM_CLIENT_SECRET": CLIENT_SECRET,
        "UPSTREAM_NAME": name,
        "UPSTREAM_TIMEOUT": 1.5,
    }


@pytest.fixture
def upstream_name():
    """The upstream's name shown to citizens (``UPSTREAM_NAME``). None: the pages speak of "the service
    account of the Land", in German too. A test names it with ``@pytest.mark.parametrize("upstream_name", [...])``."""
    return None


@pytest.fixture
def app_config(database_url, smtp, upstream, upstream_name):
    return base_config(database_url, smtp.port) | upstream_config(upstream, upstream_name)


@pytest.fixture
def citizen_upstream():
    """The citizen's browser at the upstream."""
    return UpstreamBrowser()


@pytest.fixture
def federated(browser, upstream, citizen_upstream):
    """``federated("erika", next=...)``: start at the Bürgerkonto, sign in upstream, return the callback response."""

    def run(login, next=None, password=None, abort=False):
        start = browser.get("/federation/start" + (f"?next={requests.utils.quote(next, safe='')}" if next else ""))
        assert start.status_code == 302, start.get_data(as_text=True)[:500]
        callback = citizen_upstream.authorize(start.headers["Location"], login, password, abort=abort)
        assert isinstance(callback, str) and callback.startswith("/federation/callback?"), callback
        run.callback = callback
        return browser.get(callback)

    return run


@pytest.fixture
def live_bk(app, upstream):
    """The Bürgerkonto served over HTTP on the port the upstream sends back-channel logouts to."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", upstream.bk_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{upstream.bk_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def portal(app, client, browser):
    """A portal (relying party) the citizen's ``browser`` signs in to."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients
    from support.relying_party import REDIRECT, RelyingParty

    with app.app_context():
        registration, secret = clients.create_client("Landkreis Leer", [REDIRECT])
        db.session.commit()
        return RelyingParty(client, browser, {"client_id": registration.client_id, "client_secret": secret,
                                              "redirect_uri": REDIRECT})


@pytest.fixture
def endpoint_answering(app):
    """``endpoint_answering(name, body)``: the upstream's endpoint ``name`` (``token_endpoint``,
    ``userinfo_endpoint``) becomes a loopback server answering 200 ``application/json`` with ``body``
    (bytes, or a function making them per request); the cached upstream metadata points at it."""
    import threading

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    from buergerkonto.federation.models import Upstream
    from buergerkonto.idp.extensions import db

    servers = []

    def answer(name: str, body):
        make_body = body if callable(body) else (lambda: body)
        server = make_server("127.0.0.1", 0, lambda environ, start_response: Response(
            make_body(), content_type="application/json")(environ, start_response))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        with app.app_context():
            row = Upstream.query.one()
            row.server_metadata = {**row.server_metadata, name: f"http://127.0.0.1:{server.server_port}/{name}"}
            db.session.commit()

    yield answer
    for server in servers:
        server.shutdown()
        server.server_close()
