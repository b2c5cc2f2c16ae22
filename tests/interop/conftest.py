"""Fixtures for interoperability tests: the app as a live issuer on loopback, and a browser for it.

Relying-party libraries nobody on this project wrote talk to the provider over
real HTTP; the test plays the citizen's browser with ``requests`` (cookies,
CSRF tokens from the forms, no JavaScript).
"""

import threading
from urllib.parse import urljoin

import pytest
import requests
from bs4 import BeautifulSoup
from werkzeug.serving import make_server

from support.plugin import base_config, close_app
from support.servers import free_port

HTTP_TIMEOUT = 10


@pytest.fixture
def live(database_url, smtp):
    """The app served by werkzeug in a thread on 127.0.0.1; its issuer is that address."""
    from buergerkonto.idp import create_app

    port = free_port()
    config = base_config(database_url, smtp.port)
    config["ISSUER"] = f"http://127.0.0.1:{port}"
    app = create_app(config)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, config["ISSUER"]
    server.shutdown()
    thread.join(timeout=10)
    close_app(app)


class LiveBrowser:
    """A citizen's browser against the live server: follows redirects by hand, fills forms.

    ``visit`` stops at the first URL outside the provider (a portal's redirect
    URI); on the way it signs in when the sign-in form appears and answers the
    consent page with ``consent``. ``seen`` lists the pages it passed.
    """

    def __init__(self, base: str, email: str, password: str):
        self.base = base
        self.email = email
        self.password = password
        self.http = requests.Session()
        self.seen: list[str] = []

    def visit(self, url: str, consent: str = "allow", max_steps: int = 12) -> str:
        for _ in range(max_steps):
            if not url.startswith(self.base + "/"):
                return url
            response = self.http.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
            url = self._next(url, response, consent)
        raise AssertionError(f"no way out of the provider after {max_steps} steps: {self.seen}")

    def _next(self, url, response, consent) -> str:
        if response.status_code in (301, 302, 303, 307):
            return urljoin(url, response.headers["Location"])
        assert response.status_code == 200, (url, response.status_code, response.text[:500])
        soup = BeautifulSoup(response.text, "html.parser")
        if soup.select_one("form input[name=password]") is not None:
            self.seen.append("sign-in")
            form = soup.select_one("form:has(input[name=password])")
            return self._submit(url, form, {"email": self.email, "password": self.password})
        for form in soup.select("form:has(input[name=decision])"):
            if form.select_one(f"input[name=decision][value={consent}]") is not None:
                self.seen.append("consent")
                return self._submit(url, form, {})
        raise AssertionError(f"unexpected page at {url}: {soup.title.string if soup.title else response.text[:300]}")

    def _submit(self, url, form, values: dict) -> str:
        data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
        data.update(values)
        response = self.http.post(urljoin(url, form.get("action") or url), data=data, allow_redirects=False,
                                  timeout=HTTP_TIMEOUT)
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        return urljoin(url, response.headers["Location"])

    def signed_in(self) -> bool:
        response = self.http.get(self.base + "/account", allow_redirects=False, timeout=HTTP_TIMEOUT)
        return response.status_code == 200


@pytest.fixture
def live_browser(live):
    """``live_browser(email, password)``: a fresh browser against the live issuer."""
    _, base = live
    return lambda email, password: LiveBrowser(base, email, password)
