"""The portal's own sessions, kept in SQLite so that back-channel logout can end them by ``sid``."""

import secrets
import sqlite3
import threading
import time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_session (
    id TEXT PRIMARY KEY,
    sid TEXT,
    sub TEXT,
    name TEXT,
    acr TEXT,
    id_token TEXT,
    access_token TEXT,
    refresh_token TEXT,
    expires_at INTEGER,
    ended INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_session_sid ON portal_session (sid);
"""


class SessionStore:
    """Thread-safe access to the portal's session table."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    def _connect(self):
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def create(self, token: dict, claims: dict) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock, self._connect() as conn:
            conn.execute(
                "INSERT INTO portal_session (id, sid, sub, name, acr, id_token, access_token, refresh_token,"
                " expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, claims.get("sid"), claims["sub"], claims.get("name") or claims.get("email"),
                 claims.get("acr"), token.get("id_token"), token.get("access_token"), token.get("refresh_token"),
                 int(token.get("expires_at") or time.time() + int(token.get("expires_in", 300))), int(time.time())),
            )
        return session_id

    def get(self, session_id: str | None):
        if not session_id:
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM portal_session WHERE id = ? AND ended = 0", (session_id,)).fetchone()
        return dict(row) if row else None

    def update_tokens(self, session_id: str, token: dict) -> None:
        with self._lock, self._connect() as conn:
            conn.execute(
                "UPDATE portal_session SET access_token = ?, refresh_token = COALESCE(?, refresh_token),"
                " expires_at = ? WHERE id = ?",
                (token["access_token"], token.get("refresh_token"),
                 int(token.get("expires_at") or time.time() + int(token.get("expires_in", 300))), session_id),
            )

    def end(self, session_id: str) -> None:
        with self._lock, self._connect() as conn:
            conn.execute("UPDATE portal_session SET ended = 1 WHERE id = ?", (session_id,))

    def end_by_sid(self, sid: str | None, sub: str | None) -> int:
        """Back-channel logout: end the sessions of one IdP session (or all of one subject)."""
        with self._lock, self._connect() as conn:
            if sid:
                cursor = conn.execute("UPDATE portal_session SET ended = 1 WHERE sid = ? AND ended = 0", (sid,))
            else:
                cursor = conn.execute("UPDATE portal_session SET ended = 1 WHERE sub = ? AND ended = 0", (sub,))
            return cursor.rowcount
