"""The demo's state account: a real upstream OpenID Connect provider (oidc-provider on Node.js).

``buergerkonto demo`` calls :func:`start` (registered in
``app.extensions["buergerkonto.demo_services"]``). It runs the same
oidc-provider script the federation tests use (``tests/support/upstream``,
present in a checkout) on the demo's fourth port, registers the Bürgerkonto
there as a client, and points this app's upstream settings at it. Without
Node.js, or outside a checkout, the demo says the state account is skipped.
"""

import os
import secrets
import shutil
import subprocess
import threading
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "tests" / "support" / "upstream"
CLIENT_ID = "buergerkonto-demo"
# The name citizens see on the sign-in button and every federation page (UPSTREAM_NAME).
NAME = "Servicekonto Niedersachsen (Demo)"
LOGINS = [("erika", "eid-123456", "eID, hoch/high"), ("max", "elster-123456", "ELSTER, substantiell/substantial"),
          ("lena", "passwort-123456", "Passwort, normal/low")]


class NodeUpstream:
    """The running Node process; ``stop`` ends it (Ctrl-C reaches it too, as part of the process group)."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def _skipped(reason: str) -> dict:
    return {"lines": [f"  State account:    skipped ({reason})"]}


def start(app, state: dict, ctx: dict) -> dict:
    """Start the state account and configure it as this app's upstream; or say why it is skipped."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return _skipped("Node.js is not installed")
    if not (HARNESS / "provider.mjs").exists():
        return _skipped(f"the oidc-provider script is not in this installation: {HARNESS}")
    if not (HARNESS / "node_modules" / "oidc-provider").exists():
        print("Installing oidc-provider for the demo state account (npm) ...", flush=True)
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HARNESS, capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            return _skipped("npm could not install oidc-provider: " + done.stderr.strip()[-200:])
    port = ctx["upstream_port"]
    issuer = f"http://{ctx['host']}:{port}"
    secret = state.setdefault("upstream_client_secret", secrets.token_urlsafe(32))
    bk = ctx["issuer"]
    env = dict(os.environ, UPSTREAM_PORT=str(port), UPSTREAM_CLIENT_ID=CLIENT_ID, UPSTREAM_CLIENT_SECRET=secret,
               UPSTREAM_CLIENT_REDIRECT_URI=f"{bk}/federation/callback",
               UPSTREAM_CLIENT_POST_LOGOUT_URI=f"{bk}/federation/signed-out",
               UPSTREAM_CLIENT_BACKCHANNEL_URI=f"{bk}/federation/backchannel-logout")
    env.pop("UPSTREAM_KEY_CLIENT_JWK", None)
    log = open(Path(app.instance_path) / "demo-state-account.log", "a")
    process = subprocess.Popen(["node", "provider.mjs"], cwd=HARNESS, env=env, stdout=subprocess.PIPE,
                               stderr=log, text=True)
    log.close()
    line = process.stdout.readline()
    if "upstream listening" not in line:
        NodeUpstream(process).stop()
        return _skipped(f"it did not start; see {Path(app.instance_path) / 'demo-state-account.log'}")
    # Keep draining its output so the process never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    app.config.update(UPSTREAM_ISSUER=issuer, UPSTREAM_CLIENT_ID=CLIENT_ID, UPSTREAM_CLIENT_SECRET=secret,
                      UPSTREAM_NAME=NAME)
    logins = ", ".join(f"{login} / {password} ({how})" for login, password, how in LOGINS)
    return {"servers": [NodeUpstream(process)],
            "lines": [f"  State account:    {issuer}/ (\"Mit {NAME} anmelden\" on the sign-in page)",
                      f"    its citizens:   {logins}"]}
