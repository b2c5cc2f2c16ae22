"""The benchmark's database: a throwaway PostgreSQL, migrated, seeded by COPY.

The server is the tests' ``PostgresServer`` (tests/support/servers.py), imported
rather than copied. Accounts are bulk-loaded with COPY and all share one
precomputed argon2id hash, so a million accounts take a minute, not the
days that a million real hashes would.
"""

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.servers import PG_BIN, PostgresServer, free_port  # noqa: E402,F401  (the tests' throwaway cluster)

PASSWORD = "bench-Passwort-7319"
SERVER_SETTINGS = {"shared_buffers": "2GB", "effective_cache_size": "8GB", "work_mem": "16MB"}
EMAIL_DOMAIN = "bench.buergerkonto.de"
REDIRECT_URI = "http://127.0.0.1:9/callback"


def email_of(n: int) -> str:
    return f"citizen{n}@{EMAIL_DOMAIN}"


def sha256_hex(value: str) -> str:
    """What the service stores for a code or token (``idp.crypto.sha256_hex``)."""
    return hashlib.sha256(value.encode()).hexdigest()


class Database:
    """One PostgreSQL database for one benchmark run."""

    def __init__(self, env: dict):
        # A database server's memory, not the 128 MB default of a throwaway cluster: with a million
        # postbox messages (about 800 MB) the default made the list row measure cache misses.
        self.server = PostgresServer().start(SERVER_SETTINGS)
        self.server.execute("CREATE DATABASE bench")
        self.url = self.server.url("bench")
        self.dsn = f"host=127.0.0.1 port={self.server.port} user=postgres dbname=bench"
        self.env = dict(env, BUERGERKONTO_DATABASE_URL=self.url)
        self.accounts = 0

    def stop(self):
        self.server.stop()

    def connect(self, autocommit: bool = True):
        return psycopg.connect(self.dsn, autocommit=autocommit)

    def cli(self, *args: str) -> str:
        """Run the operator's console script against this database."""
        out = subprocess.run([str(Path(sys.executable).parent / "buergerkonto"), *args],
                             env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"buergerkonto {' '.join(args)} failed:\n{out.stderr}")
        return out.stdout

    def migrate(self):
        self.cli("db", "upgrade")

    def create_client(self, access_token_format: str = "jwt") -> dict:
        """A member portal with a secret (client_secret_basic), allowed all grants; its client-credentials
        tokens are RFC 9068 JWTs (the default for new portals) or opaque and stored."""
        return json.loads(self.cli("clients", "create", "--name", f"Benchmark portal ({access_token_format})",
                                   "--redirect-uri", REDIRECT_URI, "--access-token-format", access_token_format,
                                   "--json"))

    def has_table(self, name: str) -> bool:
        with self.connect() as conn:
            return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]

    def postmaster_pid(self) -> int:
        return int((self.server.datadir / "postmaster.pid").read_text().split()[0])

    def grow_accounts(self, total: int, password_hash: str) -> float:
        """Add accounts until there are ``total``; returns the seconds it took."""
        start = time.monotonic()
        if total <= self.accounts:
            return 0.0
        with self.connect() as conn, conn.cursor() as cur:
            with cur.copy("COPY account (uuid, email, email_verified_at, password_hash, password_changed_at,"
                          " name, given_name, family_name, locale, created_at, updated_at) FROM STDIN") as copy:
                for n in range(self.accounts + 1, total + 1):
                    copy.write_row((str(uuid.uuid4()), email_of(n), "2024-01-01", password_hash, "2024-01-01",
                                    f"Bürger {n}", "Bürger", str(n), "de", "2024-01-01", "2024-01-01"))
            cur.execute("ANALYZE account")
        self.accounts = total
        return time.monotonic() - start

    def token_pool(self, client_id: str, count: int, kind: str, lifetime: int) -> list[str]:
        """Insert ``count`` tokens as the service would have issued them; return their plain values.

        ``kind`` is "refresh" (offline_access grants with a usable refresh token)
        or "access" (an access token with openid profile email). Each copies the
        sign-in context (sid, acr, amr, auth_time) of a real token issued by the
        sign-in row when there is one, so the service does the same lookups as
        for tokens it issued itself.
        """
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT account_id, sid, auth_time, acr, amr::text, scope FROM oauth_token "
                        "WHERE account_id IS NOT NULL AND sid IS NOT NULL ORDER BY id DESC LIMIT 5000")
            models = cur.fetchall()
            if not models:
                cur.execute("SELECT id FROM account ORDER BY random() LIMIT 5000")
                models = [(row[0], None, int(time.time()), "http://eidas.europa.eu/LoA/low", '["pwd"]', "")
                          for row in cur.fetchall()]
            now = int(time.time())
            values = []
            with cur.copy("COPY oauth_token (client_id, token_type, access_token, refresh_token, scope, account_id,"
                          " grant_id, refresh_expires_at, auth_time, acr, amr, sid, issued_at,"
                          " access_token_revoked_at, refresh_token_revoked_at, expires_in) FROM STDIN") as copy:
                for i in range(count):
                    account_id, sid, auth_time, acr, amr, _scope = models[i % len(models)]
                    access = secrets.token_urlsafe(32)
                    refresh = secrets.token_urlsafe(48) if kind == "refresh" else None
                    scope = "openid profile email offline_access" if refresh else "openid profile email"
                    copy.write_row((client_id, "Bearer", sha256_hex(access), sha256_hex(refresh) if refresh else None,
                                    scope, account_id, str(uuid.uuid4()), now + 30 * 86400 if refresh else None,
                                    auth_time, acr, amr, sid, now, 0, 0, lifetime))
                    values.append(refresh or access)
        return values

    def size(self) -> dict:
        with self.connect() as conn:
            rows = conn.execute("SELECT (SELECT count(*) FROM account), (SELECT count(*) FROM oauth_token),"
                                " pg_size_pretty(pg_database_size('bench'))").fetchone()
        return {"accounts": rows[0], "tokens": rows[1], "size": rows[2]}


def pg_version() -> str:
    out = subprocess.run([str(PG_BIN / "postgres"), "--version"], capture_output=True, text=True)
    return out.stdout.strip()


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def env_for_service(workdir: Path, issuer: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERKONTO_")}
    env.update(BUERGERKONTO_SECRET_KEY=secrets.token_urlsafe(48), BUERGERKONTO_ISSUER=issuer,
               BUERGERKONTO_INSTANCE_PATH=str(workdir / "instance"),
               # The longest access-token lifetime the service allows: the token pools outlive a row.
               BUERGERKONTO_OIDC_ACCESS_TOKEN_LIFETIME="600")
    return env
