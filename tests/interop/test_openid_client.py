"""Interoperability: panva's ``openid-client`` (npm, an OpenID Certified RP library) against the live issuer.

``openid_client/rp.mjs`` is the portal: openid-client discovers the issuer,
builds the authorization request (PKCE S256, nonce, state), processes the
callback (it checks ``iss`` per RFC 9207 and the state), redeems the code,
verifies the ID token against the JWKS, calls userinfo, refreshes, introspects,
revokes, builds the RP-initiated logout URL and runs the client-credentials
grant. This test plays the citizen's browser between the two over real HTTP
and asserts on what the library reports. Each client authentication method
the provider offers is exercised once.

The npm dependencies are pinned by the committed package-lock.json and
installed with ``npm ci`` on first use (node_modules is not committed).
"""

import fcntl
import json
import os
import queue
import secrets
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

PROJECT = Path(__file__).resolve().parent / "openid_client"
REDIRECT = "https://portal.example/callback"
SIGNED_OUT = "https://portal.example/signed-out"
PASSWORD = "Lange-Passphrase-2026"
LOW = "http://eidas.europa.eu/LoA/low"
STEP_TIMEOUT = 30
NPM_TIMEOUT = 300


@pytest.fixture(scope="session")
def openid_client_rp() -> list[str]:
    """The command that runs the openid-client portal; installs its locked npm dependencies once."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("Node.js 20+ and npm are needed for the openid-client interoperability test")
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                               check=True).stdout.strip().lstrip("v").split(".")[0])
    assert major >= 20, "openid-client 6 needs Node.js 20 or newer"
    lockfile = PROJECT / "package-lock.json"
    installed = PROJECT / "node_modules" / ".package-lock.json"  # npm writes it after every install
    with open(lockfile) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers: one installs, the other waits
        try:
            if not installed.exists() or installed.stat().st_mtime < lockfile.stat().st_mtime:
                result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PROJECT,
                                        capture_output=True, text=True, timeout=NPM_TIMEOUT)
                assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return [node, str(PROJECT / "rp.mjs")]


class NodePortal:
    """The openid-client script as a subprocess speaking JSON lines; every wait is bounded."""

    def __init__(self, command):
        self.process = subprocess.Popen(command, cwd=PROJECT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                        env=dict(os.environ, NO_COLOR="1"))
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output: the script exited

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line)

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict:
        """The next message from the script; its own error report (or silence) fails the test."""
        try:
            line = self.lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"openid-client said nothing for {STEP_TIMEOUT}s; stderr: {''.join(self.stderr)}")
        if line is None:
            self.process.wait(timeout=10)
            raise AssertionError(f"openid-client exited ({self.process.returncode}): {''.join(self.stderr)}")
        return json.loads(line)

    def expect(self, step: str) -> dict:
        message = self.receive()
        assert message["step"] == step, f"expected {step}, openid-client reported: {message}"
        return message

    def exit_code(self) -> int:
        return self.process.wait(timeout=STEP_TIMEOUT)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def node_portal(openid_client_rp):
    started = []

    def start():
        started.append(NodePortal(openid_client_rp))
        return started[-1]

    yield start
    for portal in started:
        portal.close()


def _register(app, auth_method: str, id_token_alg: str = "ES256"):
    """A member portal registered through the client service, as the operator's CLI would."""
    from joserfc.jwk import ECKey

    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    options = {"post_logout_redirect_uris": [SIGNED_OUT], "id_token_alg": id_token_alg}
    private_jwk = None
    if auth_method == "none":
        options["public"] = True
    else:
        options["token_endpoint_auth_method"] = auth_method
    if auth_method == "private_key_jwt":
        key = ECKey.generate_key("P-256", parameters={"kid": secrets.token_urlsafe(8)})
        private_jwk = key.as_dict(private=True)
        options["jwks"] = {"keys": [key.as_dict(private=False)]}
    with app.app_context():
        client, secret = clients.create_client(f"Portal ({auth_method})", [REDIRECT], **options)
        db.session.commit()
        return {"client_id": client.client_id, "client_secret": secret, "auth_method": auth_method,
                "private_jwk": private_jwk}


def _citizen(app) -> str:
    from buergerkonto.idp import accounts
    from buergerkonto.idp.extensions import db

    with app.app_context():
        account = accounts.create_account(f"interop-{secrets.token_hex(4)}@example.org", PASSWORD, None,
                                          verified=True)
        db.session.commit()
        return account.email


def _settings(base, registration, scope, id_token_alg=None) -> dict:
    return {"issuer": base, "redirect_uri": REDIRECT, "post_logout_redirect_uri": SIGNED_OUT, "scope": scope,
            "id_token_alg": id_token_alg, "client_credentials": registration["auth_method"] != "none",
            **registration}


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("auth_method, id_token_alg", [
    ("client_secret_basic", "ES256"),
    ("client_secret_post", "RS256"),
    ("private_key_jwt", "ES256"),
    ("none", "ES256"),
])
def test_openid_client_runs_code_flow_userinfo_refresh_logout_and_client_credentials(
        live, live_browser, node_portal, auth_method, id_token_alg):
    app, base = live
    registration = _register(app, auth_method, id_token_alg)
    email = _citizen(app)
    browser = live_browser(email, PASSWORD)
    portal = node_portal()
    portal.send(_settings(base, registration, "openid email offline_access",
                          id_token_alg if id_token_alg != "ES256" else None))

    authorize_url = portal.expect("authorize")["url"]
    assert authorize_url.startswith(base + "/authorize?")
    request = _query(authorize_url)
    assert request["code_challenge_method"] == "S256" and request["code_challenge"]
    assert request["client_id"] == registration["client_id"] and request["nonce"] and request["state"]
    callback = browser.visit(authorize_url)
    # Member portals skip consent, except for offline access (OIDC Core §11).
    assert browser.seen == ["sign-in", "consent"]
    assert callback.startswith(REDIRECT + "?") and _query(callback)["iss"] == base
    portal.send({"callback": callback})

    end_session = portal.expect("end_session")
    done = portal.expect("done")
    assert portal.exit_code() == 0

    assert done["server"] == {"issuer": base, "supports_pkce": True}
    assert done["tokens"]["token_type"] == "bearer" and done["tokens"]["has_refresh_token"]
    assert 0 < done["tokens"]["expires_in"] <= 600
    header, claims = done["id_token"]["header"], done["id_token"]["claims"]
    assert header["alg"] == id_token_alg and header["kid"]
    assert claims["iss"] == base and claims["aud"] in (registration["client_id"], [registration["client_id"]])
    assert claims["nonce"] == done["authorize"]["nonce"] == request["nonce"]
    assert claims["acr"] == LOW and claims["amr"] == ["pwd"] and claims["sid"] and claims["auth_time"]
    assert done["userinfo"]["sub"] == claims["sub"] and done["userinfo"]["email"] == email

    refreshed = done["refreshed"]
    assert refreshed["rotated"] and refreshed["new_access_token"]
    assert refreshed["userinfo"]["sub"] == claims["sub"]
    if refreshed["id_token_claims"] is not None:
        # A refresh keeps the acr and auth_time of the sign-in it came from.
        assert refreshed["id_token_claims"]["acr"] == claims["acr"]
        assert refreshed["id_token_claims"]["auth_time"] == claims["auth_time"]
    if auth_method != "none":
        assert done["introspection"]["active"] is True
        assert done["introspection"]["client_id"] == registration["client_id"]
        assert done["after_revocation"] == {"active": False}

    logout = _query(end_session["url"])
    assert end_session["url"].startswith(base + "/end-session?")
    assert logout["post_logout_redirect_uri"] == SIGNED_OUT and logout["client_id"] == registration["client_id"]
    assert browser.signed_in()
    landing = browser.visit(end_session["url"])
    assert landing == f"{SIGNED_OUT}?state={end_session['state']}"
    assert not browser.signed_in()

    granted = done["client_credentials"]
    if auth_method == "none":
        assert granted is None
    else:
        assert granted["token_type"] == "bearer" and 0 < granted["expires_in"] <= 600
        assert not granted["has_refresh_token"] and not granted["has_id_token"]
        assert granted["introspection"]["active"] is True
        assert granted["introspection"]["client_id"] == registration["client_id"]
        assert "sub" not in granted["introspection"] or granted["introspection"]["sub"] != claims["sub"]


@pytest.mark.parametrize("scenario", ["consent_denied", "prompt_none_without_session"])
def test_openid_client_accepts_error_responses_with_iss_and_state(live, live_browser, node_portal, scenario):
    """Error responses carry ``iss`` and ``state`` too: openid-client checks both before it reports the error."""
    app, base = live
    registration = _register(app, "client_secret_basic")
    browser = live_browser(_citizen(app), PASSWORD)
    portal = node_portal()
    if scenario == "consent_denied":
        portal.send(_settings(base, registration, "openid offline_access"))
        callback = browser.visit(portal.expect("authorize")["url"], consent="deny")
        assert browser.seen == ["sign-in", "consent"]
        expected = "access_denied"
    else:
        portal.send(dict(_settings(base, registration, "openid"), authorize_params={"prompt": "none"}))
        callback = browser.visit(portal.expect("authorize")["url"])
        assert browser.seen == []
        expected = "login_required"
    assert _query(callback)["iss"] == base
    portal.send({"callback": callback})

    refused = portal.expect("error")
    assert portal.exit_code() == 1
    assert refused["error"] == expected and refused["code"] == "OAUTH_AUTHORIZATION_RESPONSE_ERROR", refused
