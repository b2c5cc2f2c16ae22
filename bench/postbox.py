"""The postbox rows' data: portal subjects, sealed messages and citizens' read tokens, by COPY.

Issue 6 asks for list latency with 1,000,000 messages across 100,000 accounts,
and that it does not grow with the table. The benchmark keeps ten messages
per postbox at every size and grows the number of postboxes with the account
count (``messages = accounts``: 10,000 messages in 1,000 postboxes at 10k
accounts, 1,000,000 in 100,000 at 1M), so a list page does the same work at
each size and only the table around it grows.

Nothing is faked: subjects come from the provider's own subject function
(``idp.oidc.claims.subject_for``), messages are sealed with the postbox's own
``sealing`` functions (a data key per message, wrapped by the configured KEK),
and tokens are stored as the service hashes them (``hash_token``). Rows are
streamed into COPY as they are made, so a million messages need no more memory
than one.
"""

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

MESSAGES_PER_POSTBOX = 10
# Sends go to the last accounts of each size, never to the postboxes the list row reads.
SEND_RECIPIENTS = 2000
READ_TOKENS = 2000
SEND_SCOPE = "postbox.send"
READ_SCOPE = "openid postbox.read"
LIST_PATH = "/api/postbox/v1/messages"

BODY = ("Sehr geehrte Bürgerin, sehr geehrter Bürger,\n\nIhr Antrag wurde bearbeitet. Den Bescheid finden "
        "Sie in der Anlage. Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Widerspruch "
        "erhoben werden.\n\nMit freundlichen Grüßen\nIhre Stadtverwaltung\n")


def postboxes_for(accounts: int) -> int:
    return max(1, accounts // MESSAGES_PER_POSTBOX)


def send_body() -> str:
    """What the send row posts: ``{TOKEN}`` is a recipient's sub, ``{UNIQUE}`` makes the reference unique."""
    import json

    return json.dumps({"recipient": "{TOKEN}", "subject": "Ihr Bescheid zum Antrag {UNIQUE}", "body": BODY,
                       "kind": "notice", "reference": "AZ-{UNIQUE}"})  # ASCII: wrk's Lua knows no \\u escapes


@dataclass
class Seeded:
    subjects: int = 0
    messages: int = 0
    postboxes: int = 0
    subject_seconds: float = 0.0
    message_seconds: float = 0.0


class PostboxData:
    """Grows the postbox tables along with the accounts of a ``bench.database.Database``."""

    def __init__(self, database, client: dict):
        self.database = database
        self.client_id = client["client_id"]
        self.seeded = Seeded()
        self.app = None

    def _app(self):
        """The service's own app (same secret, KEK and database), for its subject and sealing functions."""
        if self.app is None:
            from buergerkonto.idp.app import create_app

            env = self.database.env
            self.app = create_app({"SECRET_KEY": env["BUERGERKONTO_SECRET_KEY"],
                                   "ISSUER": env["BUERGERKONTO_ISSUER"],
                                   "DATABASE_URL": env["BUERGERKONTO_DATABASE_URL"],
                                   "POSTBOX_KEK": env["BUERGERKONTO_POSTBOX_KEK"]})
        return self.app

    # --- portal subjects --------------------------------------------------------------------
    def grow_subjects(self, accounts: int) -> float:
        """Index the bench portal's pairwise sub of every account up to ``accounts`` (as sign-in would)."""
        from buergerkonto.idp.oidc import claims
        from buergerkonto.idp.oidc.models import Client

        start = time.monotonic()
        app = self._app()
        # Two connections: one streams the accounts (a server-side cursor), the other COPYs the index.
        with app.app_context(), self.database.connect() as conn, conn.cursor() as cur, \
                self.database.connect(autocommit=False) as reading:
            client = Client.query.filter_by(client_id=self.client_id).one()
            sector = client.sector
            cur.execute("SELECT coalesce(max(account_id), 0) FROM postbox_portal_subject")
            done = cur.fetchone()[0]
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            sql = "COPY postbox_portal_subject (sector, subject, account_id, created_at) FROM STDIN"
            with reading.cursor(name="accounts") as accounts_cur, cur.copy(sql) as copy:
                accounts_cur.itersize = 20000
                accounts_cur.execute("SELECT id, uuid FROM account WHERE id > %s AND id <= %s ORDER BY id",
                                     (done, accounts))
                for ident, account_uuid in accounts_cur:
                    sub = claims.subject_for(client, SimpleNamespace(id=ident, uuid=account_uuid))
                    copy.write_row((sector, sub, ident, now))
                    self.seeded.subjects += 1
            cur.execute("ANALYZE postbox_portal_subject")
        took = time.monotonic() - start
        self.seeded.subject_seconds += took
        return took

    def recipients(self, accounts: int) -> list[str]:
        """Subs of the last accounts: the send row's recipients (outside the listed postboxes)."""
        with self.database.connect() as conn:
            rows = conn.execute("SELECT subject FROM postbox_portal_subject WHERE account_id > %s ORDER BY "
                                "account_id", (max(postboxes_for(accounts), accounts - SEND_RECIPIENTS),)).fetchall()
        return [r[0] for r in rows]

    # --- messages ---------------------------------------------------------------------------
    def grow_messages(self, accounts: int) -> float:
        """Fill postboxes 1..accounts/10 with ten sealed messages each; returns the seconds it took."""
        from buergerkonto.mailbox import sealing

        target = postboxes_for(accounts)
        if target <= self.seeded.postboxes:
            return 0.0
        start = time.monotonic()
        app = self._app()
        columns = ("public_id, account_id, sender_client_id, sender_name, sender_municipality, kind, status, "
                   "reference, min_level, reply_to, kek_id, data_key, subject, body, attachment_count, "
                   "created_at")
        base = datetime(2025, 1, 1)
        with app.app_context(), self.database.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM account WHERE id > %s ORDER BY id LIMIT %s",
                        (self.seeded.postboxes, target - self.seeded.postboxes))
            owners = [r[0] for r in cur.fetchall()]
            with cur.copy(f"COPY postbox_message ({columns}) FROM STDIN") as copy:
                for account_id in owners:
                    for n in range(MESSAGES_PER_POSTBOX):
                        public_id = str(uuid.uuid4())
                        key = sealing.new_data_key()
                        kid, wrapped = sealing.wrap(key, public_id)
                        status = n % 2 == 1
                        reference = f"AZ-{account_id}-{n // 2}"
                        copy.write_row((
                            public_id, account_id, self.client_id, "Benchmark portal", "Leer",
                            "status" if status else "notice", "PROCESSING" if status else None, reference,
                            "low", None, kid, wrapped,
                            sealing.seal(key, f"Ihr Bescheid {reference}".encode(), public_id, "subject"),
                            sealing.seal(key, BODY.encode(), public_id, "body"), 0,
                            base + timedelta(days=n, seconds=account_id)))
                        self.seeded.messages += 1
            cur.execute("ANALYZE postbox_message")
        self.seeded.postboxes = target
        took = time.monotonic() - start
        self.seeded.message_seconds += took
        return took

    # --- tokens -----------------------------------------------------------------------------
    def read_tokens(self, accounts: int, count: int = READ_TOKENS, lifetime: int = 600) -> list[str]:
        """Citizens' access tokens with ``postbox.read`` for random filled postboxes (as issued at sign-in)."""
        from buergerkonto.idp.oidc.models import hash_token

        now = int(time.time())
        values = []
        with self.database.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM account WHERE id <= %s ORDER BY random() LIMIT %s",
                        (postboxes_for(accounts), count))
            owners = [r[0] for r in cur.fetchall()]
            with cur.copy("COPY oauth_token (client_id, token_type, access_token, scope, account_id, grant_id,"
                          " auth_time, acr, amr, issued_at, access_token_revoked_at, refresh_token_revoked_at,"
                          " expires_in) FROM STDIN") as copy:
                for i in range(count):
                    value = secrets.token_urlsafe(32)
                    copy.write_row((self.client_id, "Bearer", hash_token(value), READ_SCOPE, owners[i % len(owners)],
                                    str(uuid.uuid4()), now, "http://eidas.europa.eu/LoA/low", '["pwd"]', now, 0, 0,
                                    lifetime))
                    values.append(value)
        return values

    # --- evidence ---------------------------------------------------------------------------
    def list_plan(self, accounts: int) -> str:
        """EXPLAIN (ANALYZE, BUFFERS) of the list query for one filled postbox: the plan and its buffers."""
        with self.database.connect() as conn:
            account_id = conn.execute("SELECT %s", (postboxes_for(accounts) // 2 or 1,)).fetchone()[0]
            rows = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM postbox_message "
                "WHERE account_id = %s AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 21",
                (account_id,)).fetchall()
        return "\n".join(r[0] for r in rows)

    def counts(self) -> dict:
        with self.database.connect() as conn:
            row = conn.execute("SELECT (SELECT count(*) FROM postbox_message),"
                               " (SELECT count(DISTINCT account_id) FROM postbox_message),"
                               " (SELECT count(*) FROM postbox_portal_subject),"
                               " pg_size_pretty(pg_total_relation_size('postbox_message'))").fetchone()
        return {"messages": row[0], "postboxes": row[1], "subjects": row[2], "table": row[3]}


def postbox_env() -> dict:
    """Service settings the postbox rows need: a KEK the seeding shares, mail into files, no send cap."""
    import base64

    return {"BUERGERKONTO_POSTBOX_KEK": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            # The per-portal cap (600/minute by default) would turn the send row into a 429 count.
            "BUERGERKONTO_POSTBOX_SEND_RATE_LIMIT": "1000000/minute"}
