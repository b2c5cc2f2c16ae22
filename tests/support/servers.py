"""Real servers for the tests, started once per test process on loopback.

PostgreSQL runs from Debian's binaries as the ``postgres`` user on a
temporary data directory and a free port; SMTP is aiosmtpd, collecting what
the service sends so tests can follow the links in it.
"""

import email
import email.policy
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("BUERGERKONTO_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args, **kwargs):
    """Run a PostgreSQL binary as the ``postgres`` user (the server refuses to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


class PostgresServer:
    """A throwaway PostgreSQL cluster; ``url(dbname)`` gives an SQLAlchemy URL."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="bk-pg-"))
        self.datadir = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    def start(self, settings: dict | None = None):
        """Start the cluster; ``settings`` are extra server settings (``-c name=value``)."""
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        options += "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-o", options, "-w", "-t", "60",
                      "-l", str(self.root / "server.log"), "start"])
        return self

    def stop(self):
        try:
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(sql)


class SmtpServer:
    """aiosmtpd on loopback that keeps every message it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self._lock:
            self.messages.append(message)
            self._lock.notify_all()
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def clear(self):
        """Forget what arrived so far (after waiting for mail still on its way, which would land after)."""
        self.settle()
        with self._lock:
            self.messages.clear()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the service's mail couriers in this process have delivered all they were
        handed: after this, mail that is not here was not sent (or failed), rather than late."""
        from buergerkonto.idp import courier

        if not courier.drain_all(timeout):
            raise AssertionError(f"mail still being delivered after {timeout} s")

    def to(self, address: str) -> list:
        address = address.lower()
        return [m for m in self.messages if address in m["X-Envelope-To"].lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 60.0):
        """Wait until ``address`` has received ``count`` messages; return the ``count``-th.

        The service delivers in the background after its response, so mail is
        waited for, with a timeout far beyond any delivery (a bound for a broken
        test, not a timing assertion). One courier delivers in commit order, so
        the n-th mail is the one the n-th mailing request queued."""
        return self._wait(address, count, lambda message: True, timeout)

    def link(self, address: str, path_part: str, count: int = 1, timeout: float = 60.0) -> str:
        """The URL containing ``path_part`` in the ``count``-th mail to ``address`` that has one
        (waited for: other mail to the same address may come before it)."""
        def links(message):
            return [url for url in re.findall(r"https?://\S+", self.body(message)) if path_part in url]

        return links(self._wait(address, count, links, timeout))[0]

    @staticmethod
    def body(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    def _wait(self, address: str, count: int, wanted, timeout: float):
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(found := [m for m in self.to(address) if wanted(m)]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no mail #{count} for {address}; got {[m['Subject'] for m in self.messages]}")
                self._lock.wait(remaining)
            return found[count - 1]


class StallingSmtp:
    """A mail server that stalls: it accepts connections and says nothing until told.

    ``release()`` passes every held and later connection through to a working
    server (``target_port``), so the held mail goes out; ``hang_up()`` closes the
    held connections instead, as a server that gives up. ``held`` counts the
    connections accepted and waiting.
    """

    def __init__(self, target_port: int):
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Condition()
        self._held: list[socket.socket] = []
        self._passing = False
        self._closed = False
        self.accepted = 0

    def start(self):
        threading.Thread(target=self._accept, name="stalling-smtp", daemon=True).start()
        return self

    def _accept(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                self.accepted += 1
                if self._passing:
                    self._pass(conn)
                else:
                    self._held.append(conn)
                self._lock.notify_all()

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def wait_held(self, count: int = 1, timeout: float = 60.0) -> None:
        """Wait until ``count`` connections are being held (a bound for a broken test, not a timing)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._held) >= count, timeout):
                raise AssertionError(f"no connection #{count} to the stalling server within {timeout} s")

    def release(self) -> None:
        with self._lock:
            self._passing = True
            held, self._held = self._held, []
        for conn in held:
            self._pass(conn)

    def hang_up(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()

    def _pass(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=self._relay, args=(conn, upstream), daemon=True).start()

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until both sides have finished; then close both."""
        with client, upstream, selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            open_directions = 2
            while open_directions:
                for key, _events in selector.select():
                    try:
                        data = key.fileobj.recv(65536)
                        if data:
                            key.data.sendall(data)
                            continue
                        key.data.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    selector.unregister(key.fileobj)
                    open_directions -= 1

    def stop(self) -> None:
        self._listener.close()
        self.hang_up()
