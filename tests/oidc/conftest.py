"""Fixtures for the provider's protocol tests: portals (clients) and a relying party driver.

``rp`` plays a portal against the app through the test client: it builds an
authorization request with PKCE, lets the ``browser`` follow it, redeems the
code and verifies the ID token with joserfc against the published JWKS.
(Authlib 1.9 deprecates ``authlib.jose`` in favour of joserfc, by the same
author; deprecations fail this suite.)
"""

import pyotp
import pytest

from support.plugin import enable_totp
from support.relying_party import ISSUER, REDIRECT, LogoutReceiver, RelyingParty, pkce_pair, query_of  # noqa: F401 - used by the tests here


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


@pytest.fixture
def receiver():
    server = LogoutReceiver()
    yield server
    server.stop()


def substantial_offline_tokens(rp, browser, app, citizen, scope="openid offline_access") -> dict:
    """The citizen steps up with a second factor for ``acr`` substantial and the portal redeems the
    code (consenting where asked): its token response, offline access included."""
    secret = enable_totp(app, citizen["id"])
    response = browser.get(rp.authorize_url(scope, acr_values="http://eidas.europa.eu/LoA/substantial"))
    done = browser.submit(response.headers["Location"], {"code": pyotp.TOTP(secret).now()})
    page = browser.follow(done)
    if rp.is_consent_page(page):
        page = rp.decide(page, "allow")
    return rp.redeem(rp.callback(page)["code"]).get_json()
