"""The outside programs the benchmark needs, installed when missing.

``wrk`` comes from Debian (apt-get), the peer ``oidc-provider`` from npm into
bench/peer/node_modules (pinned in bench/peer/package.json).
"""

import os
import shutil
import subprocess
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent / "peer"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    print("installing wrk (apt-get) ...", flush=True)
    subprocess.run(prefix + ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "wrk"],
                   check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and apt-get could not install it.")
    return found


def ensure_peer() -> Path | None:
    """Install oidc-provider into bench/peer/node_modules; ``None`` when Node is missing."""
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    if not (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
        print("installing oidc-provider (npm) ...", flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=PEER_DIR, check=True)
    return PEER_DIR


def version(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10)
    except OSError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"
