"""Fixtures for the provider's protocol tests: portals (clients) and a relying party driver.

``rp`` plays a portal against the app through the test client: it builds an
authorization request with PKCE, lets the ``browser`` follow it, redeems the
code and verifies the ID token with joserfc against the published JWKS.
(Authlib 1.9 deprecates ``authlib.jose`` in favour of joserfc, by the same
author; deprecations fail this suite.)
"""

import pytest

from support.relying_party import ISSUER, REDIRECT, RelyingParty, pkce_pair, query_of  # noqa: F401 - used by the tests here


@pytest.fixture
def make_client(app):
    """Register a portal through the service function; returns a dict with id and secret."""
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    def make(name="Portal Leer", redirect_uris=(REDIRECT,), **options):
        with app.app_context():
            client, secret = clients.create_client(name, list(redirect_uris), **options)
            db.session.commit()
            return {"client_id": client.client_id, "client_secret": secret, "redirect_uri": redirect_uris[0]}

    return make


@pytest.fixture
def portal(make_client):
    """A member portal with a confidential client (client_secret_basic)."""
    return make_client()


@pytest.fixture
def rp(client, browser, portal):
    return RelyingParty(client, browser, portal)


@pytest.fixture
def make_rp(client, browser, make_client):
    def make(**options):
        return RelyingParty(client, browser, make_client(**options))

    return make


def sign_in_again(browser, account, next_url):
    """Fill the sign-in form the provider sent the browser to; returns the response after it."""
    return browser.submit(next_url, {"email": account["email"], "password": account["password"]})


class LogoutReceiver:
    """A portal's back-channel logout endpoint: a real HTTP server on loopback."""

    def __init__(self, status=200):
        import threading

        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        self.received = []
        self.status = status
        self._event = threading.Condition()

        @Request.application
        def application(request):
            with self._event:
                self.received.append(request.form.get("logout_token"))
                self._event.notify_all()
            return Response("", status=self.status)

        self.server = make_server("127.0.0.1", 0, application, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/backchannel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = LogoutReceiver()
    yield server
    server.stop()
