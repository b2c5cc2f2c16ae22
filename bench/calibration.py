"""How fast is this machine? Two yardsticks issue 8 quotes for its own machine, measured in the same run.

The VM the benchmark runs on changes speed from day to day (argon2id took 18.7 ms on one day and
28-50 ms on another; the peer's rate moved threefold). The targets are absolute, so every run also
measures what issue 8 measured where it set them: a bare Flask endpoint under gunicorn with the
service's worker settings ("about 4,000 requests/s"), and one argon2id hash at the service's
parameters ("about 27 ms"). A reader can then tell a slow service from a slow machine.
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask

# Issue 8's figures for its machine (2 cores, wrk with 16 connections).
ISSUE_BARE_FLASK_PER_S = 4000
ISSUE_ARGON2_MS = 27.0

app = Flask(__name__)


@app.get("/")
def hello():
    return {"status": "ok"}


def start_bare_flask(port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    """This module's app under gunicorn, started as ``buergerkonto serve`` starts the service."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with open(log, "ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                                 "--worker-class", "gthread", "--threads", str(threads), "--reuse-port",
                                 "bench.calibration:app"],
                                cwd=Path(__file__).resolve().parent.parent, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


def argon2_ms(config: dict, rounds: int = 15) -> float:
    """Median wall time of one argon2id hash at the service's parameters, in this (idle) process."""
    from argon2 import PasswordHasher, Type

    hasher = PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_KIB"],
                            parallelism=config["ARGON2_PARALLELISM"], type=Type.ID)
    encoded = hasher.hash("kalibrierung")
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        hasher.verify(encoded, "kalibrierung")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
