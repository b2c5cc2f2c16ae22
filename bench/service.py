"""The service as deployed (``buergerkonto serve --workers 2``), and what it costs from /proc."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

CLK_TCK = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_seconds(pids, reaped_of=None) -> float:
    """utime + stime of the given processes (fields 14 and 15 of /proc/PID/stat), plus the
    cutime + cstime (fields 16 and 17) of ``reaped_of``: the CPU of its children that have exited.
    PostgreSQL's backends come and go with connections; without the reaped ones a row whose
    backends ended during the run measured negative database CPU."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
        if pid == reaped_of:
            total += int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class ProcessTree:
    """A master process and its children (gunicorn workers, Node cluster workers, PostgreSQL backends)."""

    def __init__(self, pid: int):
        self.pid = pid

    def pids(self) -> list[int]:
        return [self.pid] + children(self.pid)

    def workers(self) -> list[int]:
        return children(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pids(), reaped_of=self.pid)

    def peak_rss_mib(self) -> float:
        """The largest VmHWM (peak resident set) among the workers, in MiB."""
        return max((status_kib(p, "VmHWM") for p in self.workers()), default=0) / 1024


class Service:
    """``buergerkonto serve`` on loopback: gunicorn with N gthread workers, as the README deploys it."""

    def __init__(self, env: dict, port: int, workers: int, logdir: Path, extra_args: list[str] = ()):
        self.port, self.workers = port, workers
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(logdir / "service.log", "ab")
        script = str(Path(sys.executable).parent / "buergerkonto")
        self.proc = subprocess.Popen([script, "serve", "--host", "127.0.0.1", "--port", str(port),
                                      "--workers", str(workers), *extra_args], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.tree = ProcessTree(self.proc.pid)
        wait_until_up(self.base + "/.well-known/openid-configuration", self.proc)
        deadline = time.monotonic() + 30
        while len(self.tree.workers()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode} (see its log)")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout} s")
