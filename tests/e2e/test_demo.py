"""``buergerkonto demo`` as an evaluator runs it: a process that serves, stops with Ctrl-C, and runs again.

The demo is started as a subprocess on free ports with a temporary instance
folder; the test waits for the printed URLs, asks each server, sends SIGINT
(what Ctrl-C sends), and starts it again on the same folder: the second run
must find its data (same credentials) and serve again.
"""

import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pyotp
import requests

SCRIPT = Path(sys.executable).parent / "buergerkonto"


def four_free_ports() -> int:
    """A base port whose next three ports are free too (the demo uses port .. port + 3)."""
    for _ in range(200):
        base = random.randint(20_000, 60_000)
        sockets = []
        try:
            for offset in range(4):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no four consecutive free ports")


class Demo:
    """One ``buergerkonto demo`` process; ``output`` is what it printed so far."""

    def __init__(self, instance: Path, port: int):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERKONTO_")}
        env["BUERGERKONTO_INSTANCE_PATH"] = str(instance)
        self.process = subprocess.Popen([str(SCRIPT), "demo", "--port", str(port)], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = queue.Queue()
        self.output = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 240) -> str:
        while text not in self.output:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"the demo ended before printing {text!r}:\n{self.output}")
            self.output += line
        return self.output

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        self.process.stdout.close()
        try:
            while (line := self.lines.get_nowait()) is not None:
                self.output += line
        except queue.Empty:
            pass
        return code


def url_of(output: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}:\s+(http://\S+?)/?\s", output)
    assert match, f"no {label} URL in:\n{output}"
    return match.group(1)


def staff_credentials(output: str) -> list[tuple[str, str, str]]:
    return re.findall(r"(\S+@\S+) / (\S+)\s+\(TOTP secret ([A-Z2-7]+)\)", output)


def test_demo_serves_stops_on_ctrl_c_and_runs_again(tmp_path, new_context):
    instance = tmp_path / "instance"
    port = four_free_ports()
    node = shutil.which("node") is not None

    first = Demo(instance, port)
    try:
        output = first.wait_for("Stop with Ctrl-C.")
        idp = url_of(output, "Bürgerkonto")
        assert idp == f"http://127.0.0.1:{port}"
        assert requests.get(idp + "/.well-known/openid-configuration", timeout=10).json()["issuer"] == idp
        for name in ("Stadt Leer", "Landkreis Leer"):
            page = requests.get(url_of(output, name) + "/", timeout=10)
            assert page.status_code == 200 and name in page.text
            login = requests.get(url_of(output, name) + "/login", timeout=10, allow_redirects=False)
            assert login.headers["Location"].startswith(idp + "/authorize?")
        staff = staff_credentials(output)
        assert len(staff) == 3
        assert "erika.mustermann@example.org / Demo-Buergerkonto-2026" in output
        if node:
            upstream = url_of(output, "State account")
            assert requests.get(upstream + "/.well-known/openid-configuration", timeout=10).ok
            # "Sign in with the service account of the Land" leads there and back (erika: eID).
            page = new_context().new_page()
            page.goto(idp + "/sign-in")
            with page.expect_navigation():
                page.click("#federation-sign-in")
            assert page.url.startswith(upstream + "/interaction/")
            page.fill("[name=login]", "erika")
            page.fill("[name=password]", "eid-123456")
            with page.expect_navigation(url=idp + "/federation/new"):
                page.click("form[action$='/login'] button")
            assert "erika.mustermann@servicekonto.example" in page.inner_text("main")
        else:
            assert "State account:    skipped (Node.js is not installed)" in output
    finally:
        code = first.interrupt()
    assert code == 0, first.output
    assert "Demo stopped." in first.output and "Traceback" not in first.output
    for offset in range(4):  # every server is gone, the Node child included
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port + offset)) != 0

    # `demo codes` gives the current code of each employee, from the instance's demo data only.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERKONTO_")}
    codes = subprocess.run([str(SCRIPT), "demo", "codes"], env=env | {"BUERGERKONTO_INSTANCE_PATH": str(instance)},
                           capture_output=True, text=True, timeout=60)
    assert codes.returncode == 0, codes.stderr
    for email, _, secret in staff:
        assert pyotp.TOTP(secret).verify(codes.stdout.split(email + ": ")[1][:6], valid_window=1)
    empty = subprocess.run([str(SCRIPT), "demo", "codes"], capture_output=True, text=True, timeout=60,
                           env=env | {"BUERGERKONTO_INSTANCE_PATH": str(tmp_path / "elsewhere")})
    assert empty.returncode != 0 and "run `buergerkonto demo` first" in empty.stderr

    second = Demo(instance, port)
    try:
        output = second.wait_for("Stop with Ctrl-C.")
        assert staff_credentials(output) == staff
        assert requests.get(url_of(output, "Stadt Leer") + "/", timeout=10).status_code == 200
        sign_in = requests.get(idp + "/sign-in", timeout=10)
        assert sign_in.status_code == 200
    finally:
        code = second.interrupt()
    assert code == 0, second.output
    assert "Demo stopped." in second.output and "Traceback" not in second.output


def test_demo_refuses_a_production_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERKONTO_")}
    env |= {"BUERGERKONTO_INSTANCE_PATH": str(tmp_path), "BUERGERKONTO_ENV": "production",
            "BUERGERKONTO_SECRET_KEY": "x" * 48, "BUERGERKONTO_ISSUER": "https://konto.example.org"}
    done = subprocess.run([str(SCRIPT), "demo", "--port", str(four_free_ports())], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "does not run with BUERGERKONTO_ENV=production" in done.stderr
    assert not (tmp_path / "demo.json").exists()
