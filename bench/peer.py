"""The peer: node-oidc-provider with Node's cluster module, started and stopped by the benchmark."""

import secrets
import signal
import subprocess
from pathlib import Path

from .service import ProcessTree, wait_until_up
from .tools import PEER_DIR


class Peer:
    def __init__(self, port: int, workers: int, token_format: str, logdir: Path):
        self.client_id, self.secret = "bench-peer", secrets.token_urlsafe(32)
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(logdir / f"peer-{token_format}.log", "ab")
        self.proc = subprocess.Popen(["node", str(PEER_DIR / "server.js"), str(port), str(workers), token_format,
                                      self.client_id, self.secret], cwd=PEER_DIR, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.tree = ProcessTree(self.proc.pid)
        wait_until_up(self.base + "/.well-known/openid-configuration", self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def peer_version() -> str:
    package = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not package.exists():
        return "not installed"
    import json

    return json.loads(package.read_text())["version"]
