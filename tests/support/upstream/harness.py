"""The upstream for the federation tests: oidc-provider on Node, and a citizen's browser there.

``Upstream`` runs ``provider.mjs`` (``npm install`` first when ``node_modules`` is
missing) and talks to its admin interface; ``UpstreamBrowser`` plays the
citizen's browser at the upstream with ``requests``: it follows redirects,
posts the login form, and stops at the Bürgerkonto's callback URL, which the
test then opens with the Flask test client.
"""

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from bs4 import BeautifulSoup

from ..servers import free_port

HARNESS = Path(__file__).resolve().parent
BK_BASE = "http://localhost"
CLIENT_ID = "buergerkonto"
CLIENT_SECRET = "servicekonto-client-secret-for-tests-0123456789"

CITIZENS = {
    "erika": "eid-123456",      # eID, http://eidas.europa.eu/LoA/high
    "max": "elster-123456",     # STORK-QAA-Level-3 (substantial)
    "lena": "passwort-123456",  # http://eidas.europa.eu/LoA/low
    "otto": "eid-654321",       # STORK-QAA-Level-4 (high)
}


class Upstream:
    """The running oidc-provider and its admin interface."""

    def __init__(self, port: int, bk_port: int, key_pem: str):
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.bk_port = bk_port
        self.private_key_pem = key_pem
        self.process = None
        self.log_file = None

    def admin(self, name: str, **body):
        response = requests.post(f"{self.issuer}/admin/{name}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def admin_get(self, name: str):
        response = requests.get(f"{self.issuer}/admin/{name}", timeout=10)
        response.raise_for_status()
        return response.json()


class UpstreamBrowser:
    """A citizen's browser at the upstream (cookies kept, so upstream SSO and logout work)."""

    def __init__(self):
        self.http = requests.Session()

    def _walk(self, response, login=None, password=None, abort=False):
        for _ in range(20):
            if response.status_code in (302, 303):
                location = urljoin(response.url, response.headers["Location"])
                if location.startswith(BK_BASE + "/"):
                    return location[len(BK_BASE):]
                response = self.http.get(location, allow_redirects=False, timeout=10)
                continue
            if response.status_code == 200 and "text/html" in response.headers.get("Content-Type", ""):
                soup = BeautifulSoup(response.text, "html.parser")
                form = soup.select_one("form[action$='/abort']" if abort else "form[action$='/login']")
                if form is None:
                    return response
                data = {} if abort else {"login": login, "password": password}
                response = self.http.post(urljoin(response.url, form["action"]), data=data,
                                          allow_redirects=False, timeout=10)
                continue
            return response
        raise AssertionError("too many redirects at the upstream")

    def authorize(self, url: str, login: str, password: str | None = None, abort: bool = False):
        """Open the authorization URL, sign in (or cancel); return the Bürgerkonto path it sends us to."""
        response = self.http.get(url, allow_redirects=False, timeout=10)
        return self._walk(response, login, password if password is not None else CITIZENS.get(login), abort)

    def logout(self, issuer: str):
        """Sign out at the upstream itself (its own logout page, confirming with "yes")."""
        page = self.http.get(f"{issuer}/session/end", timeout=10)
        soup = BeautifulSoup(page.text, "html.parser")
        form = soup.select_one("form")
        data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
        data["logout"] = "yes"
        return self.http.post(urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=10)

    def follow_logout(self, url: str):
        """RP-initiated logout started by the Bürgerkonto: confirm at the upstream, return our path."""
        page = self.http.get(url, allow_redirects=False, timeout=10)
        soup = BeautifulSoup(page.text, "html.parser")
        form = soup.select_one("form")
        data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
        data["logout"] = "yes"
        response = self.http.post(urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=10)
        return self._walk(response)


def _install_provider() -> None:
    """oidc-provider from npm, once: scripts/test installs it, and when a test run starts without it, the
    pytest workers take turns (two ``npm ci`` in one folder at once broke every federation test)."""
    import fcntl

    with open(HARNESS / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (HARNESS / "node_modules" / "oidc-provider").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HARNESS, check=True,
                           capture_output=True, timeout=300)


def start_upstream(log_dir: Path) -> Upstream:
    if shutil.which("node") is None:
        raise RuntimeError("Node.js is needed for the federation tests (the upstream is oidc-provider)")
    _install_provider()
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "buergerkonto-key-1", "use": "sig", "alg": "RS256"})
    upstream = Upstream(free_port(), free_port(), key.as_pem(private=True).decode())
    env = dict(os.environ,
               UPSTREAM_PORT=str(upstream.port),
               UPSTREAM_CLIENT_ID=CLIENT_ID,
               UPSTREAM_CLIENT_SECRET=CLIENT_SECRET,
               UPSTREAM_CLIENT_REDIRECT_URI=f"{BK_BASE}/federation/callback",
               UPSTREAM_CLIENT_POST_LOGOUT_URI=f"{BK_BASE}/federation/signed-out",
               UPSTREAM_CLIENT_BACKCHANNEL_URI=f"http://127.0.0.1:{upstream.bk_port}/federation/backchannel-logout",
               UPSTREAM_KEY_CLIENT_JWK=json.dumps(key.as_dict(private=False)))
    log = upstream.log_file = open(log_dir / "upstream.log", "w+")
    upstream.process = subprocess.Popen(["node", "provider.mjs"], cwd=HARNESS, env=env, stdout=subprocess.PIPE,
                                        stderr=log, text=True)
    line = upstream.process.stdout.readline()
    if "upstream listening" not in line:
        upstream.process.kill()
        log.seek(0)
        output = log.read()[-2000:]
        stop_upstream(upstream)
        raise RuntimeError(f"upstream did not start: {line!r} {output}")
    # Keep draining stdout so the process never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in upstream.process.stdout], daemon=True).start()
    return upstream


def stop_upstream(upstream: Upstream) -> None:
    from buergerkonto.federation.demo import NodeUpstream

    NodeUpstream(upstream.process).stop()
    upstream.log_file.close()


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
