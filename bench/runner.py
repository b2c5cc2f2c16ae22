"""The benchmark run: set up, measure every row at every size, measure the peer, print the table.

``./bench/run --help`` lists the options; bench/README.md explains the numbers.
"""

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from . import calibration
from . import postbox as postbox_data
from . import profile, report, tools
from .database import Database, basic_auth, env_for_service, free_port, pg_version
from .peer import Peer, peer_version
from .service import ProcessTree, Service
from .signin import CLIENT as SIGNIN_CLIENT, run_signins
from .wrk import Request, Sample, run_wrk

# Upper bound of refresh grants per second, to size the pool of single-use refresh tokens.
REFRESH_CEILING = 1500
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Row:
    name: str
    size: int | None
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    rss_mib: float = 0.0
    note: str = ""
    skipped: bool = False
    unit: str = "req"
    http_requests: int = 0  # HTTP requests per unit (sign-in flows)
    extra: dict = field(default_factory=dict)  # row-specific evidence (the postbox list plan)

    def median(self) -> Sample | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples, key=lambda s: s.rate)
        middle = ordered[len(ordered) // 2]
        return Sample(middle.requests, middle.seconds, self.errors, middle.p50_ms, middle.p99_ms,
                      statistics.median(s.cpu_ms for s in self.samples),
                      statistics.median(s.db_cpu_ms for s in self.samples))


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="a short try: 10,000 accounts only, 3 s runs, one run, 1 s warm-up")
    p.add_argument("--sizes", default=None, help="account counts, comma-separated (default 10000,1000000)")
    p.add_argument("--duration", type=float, default=None, help="seconds per measured run (default 10)")
    p.add_argument("--runs", type=int, default=None, help="measured runs per row; the median is kept (default 3)")
    p.add_argument("--warmup", type=float, default=None, help="seconds of warm-up per row (default 5)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (and the peer's cluster workers)")
    p.add_argument("--rows", default=None, help="only these rows, comma-separated (" + ",".join(report.ROWS) + ")")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the service, e.g. BUERGERKONTO_SQLALCHEMY_ENGINE_OPTIONS='{}'")
    p.add_argument("--gunicorn-args", default="", help="extra gunicorn options (GUNICORN_CMD_ARGS), e.g. "
                   "--gunicorn-args='--backlog 512'; those serve sets on its command line (bind, workers, "
                   "worker class, threads, --reuse-port) win over these")
    p.add_argument("--serve-args", default="", help="extra options for buergerkonto serve, e.g. "
                   "--serve-args='--threads 2 --no-access-log'")
    p.add_argument("--no-peer", action="store_true", help="skip node-oidc-provider")
    p.add_argument("--no-calibration", action="store_true",
                   help="skip measuring the machine (bare Flask under gunicorn, one argon2id hash)")
    p.add_argument("--profile", default="", help="rows to profile with py-spy during their first run, comma-separated")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"),
                   help="folder for latest.json, latest.md and the server logs")
    args = p.parse_args(argv)
    quick = args.quick
    args.sizes = [int(s.replace("_", "")) for s in (args.sizes or ("10000" if quick else "10000,1000000")).split(",")]
    args.duration = args.duration or (3 if quick else 10)
    args.runs = args.runs or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 5)
    args.rows = args.rows.split(",") if args.rows else list(report.ROWS)
    args.profile = [r for r in args.profile.split(",") if r]
    unknown = set(args.rows) - set(report.ROWS)
    if unknown:
        p.error(f"unknown rows: {', '.join(sorted(unknown))}")
    if args.connections % args.threads:
        p.error("--connections must be a multiple of --threads")
    return args


def argon2_hash(config: dict) -> str:
    from argon2 import PasswordHasher, Type

    from buergerkonto.idp.passwords import normalise
    from .database import PASSWORD

    ph = PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_KIB"],
                        parallelism=config["ARGON2_PARALLELISM"], type=Type.ID)
    return ph.hash(normalise(PASSWORD))


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.rows: list[Row] = []
        self.postbox_seeding: list[dict] = []
        self.peer_rows: list[Row] = []
        self.calibration: dict = {}
        self.wrk = tools.ensure_wrk()

    # --- measuring -------------------------------------------------------------------------------
    def _measure(self, tree: ProcessTree, db_tree: ProcessTree | None, fn) -> Sample:
        cpu0 = tree.cpu()
        db0 = db_tree.cpu() if db_tree else 0.0
        sample = fn()
        if sample.requests:
            sample.cpu_ms = (tree.cpu() - cpu0) * 1000 / sample.requests
            if db_tree:
                sample.db_cpu_ms = (db_tree.cpu() - db0) * 1000 / sample.requests
        return sample

    def wrk_row(self, row: Row, base: str, tree, db_tree, request: Request, pool_fn=None, connections=None):
        a = self.args
        connections = connections or a.connections
        threads = min(a.threads, connections)

        def once(seconds, profiled=False):
            pool = pool_fn(seconds) if pool_fn else None
            running = profile.start(tree.workers(), seconds, self.out, row.name) if profiled else []
            sample = self._measure(tree, db_tree, lambda: run_wrk(self.wrk, base, request, seconds,
                                                                   connections, threads, pool))
            if running:
                print(f"    profile: {profile.finish(running, self.out, row.name)}", flush=True)
            return sample

        if a.warmup:
            once(a.warmup)
        for i in range(a.runs):
            sample = once(a.duration, profiled=(i == 0 and row.name in a.profile and row.size is not None))
            row.samples.append(sample)
            row.errors += sample.errors
        row.rss_mib = tree.peak_rss_mib()
        return row

    def signin_row(self, row: Row, service: Service, db_tree, client: dict, accounts: int):
        a = self.args
        auth = basic_auth(client["client_id"], client["client_secret"])
        errors_seen: list[str] = []

        def once(seconds, profiled=False):
            result = {}
            running = profile.start(service.tree.workers(), seconds, self.out, row.name) if profiled else []

            def go():
                # The driver shares the cores with the service: its own CPU per sign-in is printed too.
                cpu0 = time.process_time()
                durations, tokens, errors, requests, elapsed = run_signins(
                    service.base, client["client_id"], auth, accounts, seconds, a.connections)
                driver_cpu = time.process_time() - cpu0
                result.update(errors=errors, requests=requests,
                              driver_ms=driver_cpu * 1000 / len(durations) if durations else 0.0)
                durations.sort()
                pick = (lambda q: durations[min(len(durations) - 1, int(q * len(durations)))] * 1000) \
                    if durations else (lambda q: 0.0)
                return Sample(len(durations), elapsed, len(errors), pick(0.5), pick(0.99))

            sample = self._measure(service.tree, db_tree, go)
            if running:
                print(f"    profile: {profile.finish(running, self.out, row.name)}", flush=True)
            errors_seen.extend(result["errors"])
            if sample.requests:
                row.http_requests = round(result["requests"] / sample.requests, 1)
            return sample, result["driver_ms"]

        driver_ms: list[float] = []

        if a.warmup:
            once(a.warmup)
        for i in range(a.runs):
            sample, driver = once(a.duration, profiled=(i == 0 and row.name in a.profile))
            row.samples.append(sample)
            row.errors += sample.errors
            driver_ms.append(driver)
        row.rss_mib = service.tree.peak_rss_mib()
        row.unit = "sign-in"
        row.note = f"asyncio client ({SIGNIN_CLIENT}), {row.http_requests} HTTP requests per sign-in"
        if driver_ms:
            row.extra["driver_cpu_ms"] = round(statistics.median(driver_ms), 2)
            row.note += f", load generator {row.extra['driver_cpu_ms']:.1f} ms CPU per sign-in"
        if errors_seen:
            row.note += f"; first error: {errors_seen[0][:160]}"

    # --- our service -----------------------------------------------------------------------------
    def run_service(self, workdir: Path):
        a = self.args
        port = free_port()
        env = env_for_service(workdir, f"http://127.0.0.1:{port}")
        env.update(postbox_data.postbox_env(), BUERGERKONTO_MAIL_DIR=str(workdir / "mail"))
        env.update(item.split("=", 1) for item in a.env)
        if a.gunicorn_args:
            env["GUNICORN_CMD_ARGS"] = a.gunicorn_args
        print("starting PostgreSQL, migrating ...", flush=True)
        database = Database(env)
        service = None
        try:
            database.migrate()
            client = database.create_client("jwt")
            opaque_client = database.create_client("opaque")
            from buergerkonto.idp.config import DEFAULTS
            self.argon2 = {k: DEFAULTS[k] for k in ("ARGON2_MEMORY_KIB", "ARGON2_TIME_COST", "ARGON2_PARALLELISM")}
            password_hash = argon2_hash(DEFAULTS)
            cc_auth = basic_auth(client["client_id"], client["client_secret"])
            opaque_auth = basic_auth(opaque_client["client_id"], opaque_client["client_secret"])
            postbox = None
            if {"postbox_send", "postbox_list", "postbox_list_alone"} & set(a.rows) and \
                    database.has_table("postbox_message"):
                postbox = postbox_data.PostboxData(database, client)
            for size in a.sizes:
                took = database.grow_accounts(size, password_hash)
                print(f"{size:,} accounts ({took:.0f} s to add)", flush=True)
                if postbox is not None:
                    took = postbox.grow_subjects(size)
                    print(f"  portal subjects indexed ({took:.0f} s to add)", flush=True)
                    took = postbox.grow_messages(size)
                    seeded = postbox.seeded
                    print(f"  {seeded.messages:,} sealed messages in {seeded.postboxes:,} postboxes "
                          f"({took:.0f} s to add)", flush=True)
                    self.postbox_seeding.append({"accounts": size, "messages": seeded.messages,
                                                 "postboxes": seeded.postboxes, "seconds": round(took, 1)})
                if service is None:
                    service = Service(database.env, port, a.workers, self.out, shlex.split(a.serve_args))
                db_tree = ProcessTree(database.postmaster_pid())
                self.check_machine(size)
                self.measure_size(size, service, db_tree, database, client, cc_auth, opaque_auth, postbox)
                self.db_size = database.size()
        finally:
            if service is not None:
                service.stop()
            database.stop()

    def measure_size(self, size, service, db_tree, database, client, cc_auth, opaque_auth, postbox=None):
        a = self.args
        base, tree = service.base, service.tree

        def pool(kind):
            def make(seconds):
                count = math.ceil(seconds * REFRESH_CEILING) if kind == "refresh" else 2000
                return database.token_pool(client["client_id"], count, kind, 600)
            return make

        access_pool = None

        def want(name):
            return name in a.rows

        for name in report.ROWS:
            if not want(name):
                continue
            row = Row(name, size)
            print(f"  {name} at {size:,} accounts ...", flush=True)
            if name == "discovery":
                self.wrk_row(row, base, tree, db_tree, Request("GET", "/.well-known/openid-configuration", {}))
            elif name == "jwks":
                self.wrk_row(row, base, tree, db_tree, Request("GET", "/oauth/jwks", {}))
            elif name in ("client_credentials", "client_credentials_opaque"):
                auth = cc_auth if name == "client_credentials" else opaque_auth
                self.wrk_row(row, base, tree, db_tree, Request(
                    "POST", "/oauth/token", {**FORM, "Authorization": auth}, "grant_type=client_credentials"))
                row.note = ("RFC 9068 JWT access tokens (ES256, not stored)" if name == "client_credentials"
                            else "opaque access tokens, stored hashed with a commit")
            elif name == "signin":
                self.signin_row(row, service, db_tree, client, size)
            elif name == "refresh":
                self.wrk_row(row, base, tree, db_tree, Request(
                    "POST", "/oauth/token", {**FORM, "Authorization": cc_auth},
                    "grant_type=refresh_token&refresh_token={TOKEN}", pool=[], once=True), pool("refresh"))
                row.note = "each request spends a fresh refresh token (rotation)"
            elif name in ("userinfo", "introspection"):
                if access_pool is None:
                    access_pool = pool("access")(0)
                fixed = lambda seconds, p=access_pool: p  # noqa: E731
                if name == "userinfo":
                    request = Request("GET", "/oauth/userinfo", {"Authorization": "Bearer {TOKEN}"}, pool=[])
                else:
                    request = Request("POST", "/oauth/introspect", {**FORM, "Authorization": cc_auth},
                                      "token={TOKEN}&token_type_hint=access_token", pool=[])
                self.wrk_row(row, base, tree, db_tree, request, fixed)
            elif name in ("postbox_send", "postbox_list", "postbox_list_alone"):
                if postbox is None:
                    row.skipped = True
                    row.note = "skipped: /api/postbox/v1 is not in this build"
                elif name == "postbox_send":
                    self.postbox_send_row(row, base, tree, db_tree, postbox, cc_auth, size)
                else:
                    self.postbox_list_row(row, base, tree, db_tree, postbox, size,
                                          connections=1 if name == "postbox_list_alone" else None)
            self.rows.append(row)
            report.print_row(row)

    def postbox_send_row(self, row, base, tree, db_tree, postbox, cc_auth, size):
        """wrk POSTs messages with the portal's own postbox.send token, each with its own Idempotency-Key."""
        answer = httpx.post(base + "/oauth/token", headers={**FORM, "Authorization": cc_auth},
                            data={"grant_type": "client_credentials", "scope": postbox_data.SEND_SCOPE}, timeout=10)
        answer.raise_for_status()
        recipients = postbox.recipients(size)
        request = Request("POST", postbox_data.LIST_PATH,
                          {"Authorization": "Bearer " + answer.json()["access_token"],
                           "Content-Type": "application/json", "Idempotency-Key": "{UNIQUE}"},
                          postbox_data.send_body(), pool=[])
        self.wrk_row(row, base, tree, db_tree, request, lambda seconds, p=recipients: p)
        row.unit = "send"
        row.note = (f"{len(recipients):,} recipients addressed by their pairwise sub, a unique Idempotency-Key "
                    "per send, 1 KiB body, notification mail into MAIL_DIR")

    def postbox_list_row(self, row, base, tree, db_tree, postbox, size, connections=None):
        """wrk GETs the first page of random citizens' postboxes (10 sealed messages each); with one
        connection, the latency is the service time alone (issue 6's "must not grow with the size")."""
        tokens = postbox.read_tokens(size)
        request = Request("GET", postbox_data.LIST_PATH, {"Authorization": "Bearer {TOKEN}"}, pool=[])
        self.wrk_row(row, base, tree, db_tree, request, lambda seconds, p=tokens: p, connections)
        counts = postbox.counts()
        plan = postbox.list_plan(size)
        row.extra = {"counts": counts, "plan": plan}
        first = next((line.strip() for line in plan.splitlines() if "Scan" in line), plan.splitlines()[0])
        buffers = next((line.strip() for line in plan.splitlines() if "Buffers" in line), "")
        row.note = (f"{counts['messages']:,} messages in {counts['postboxes']:,} postboxes ({counts['table']}, "
                    "bench sends included); "
                    f"{len(tokens):,} citizens' tokens; plan: {first.lstrip('-> ')}; {buffers}")

    # --- the peer --------------------------------------------------------------------------------
    def run_peer(self):
        a = self.args
        if a.no_peer or tools.ensure_peer() is None:
            return
        # Each of our client-credentials rows is compared with the peer's row of the same token format.
        ours = {"opaque": "client_credentials_opaque", "jwt": "client_credentials"}
        for token_format in ("opaque", "jwt"):
            wanted = []
            if ours[token_format] in a.rows:
                wanted.append("client_credentials")
            if token_format == "opaque" and "discovery" in a.rows:
                wanted.append("discovery")
            if not wanted:
                continue
            peer = Peer(free_port(), a.workers, token_format, self.out)
            try:
                auth = basic_auth(peer.client_id, peer.secret)
                requests = {"client_credentials": Request("POST", "/token", {**FORM, "Authorization": auth},
                                                          "grant_type=client_credentials"),
                            "discovery": Request("GET", "/.well-known/openid-configuration", {})}
                for name in wanted:
                    row = Row(f"peer {name}" + (f" ({token_format})" if name == "client_credentials" else ""), None)
                    print(f"  {row.name} ...", flush=True)
                    self.wrk_row(row, peer.base, peer.tree, None, requests[name])
                    row.note = "node-oidc-provider, in-memory store"
                    self.peer_rows.append(row)
                    report.print_row(row)
            finally:
                peer.stop()

    # --- the machine's speed ------------------------------------------------------------------------
    def run_calibration(self):
        """Issue 8's yardsticks on this machine: bare Flask under the same gunicorn, one argon2id hash."""
        from buergerkonto.idp.config import DEFAULTS

        print("calibration: argon2id hash, bare Flask under gunicorn ...", flush=True)
        self.calibration["argon2_ms"] = calibration.argon2_ms(DEFAULTS)
        row = self.bare_flask_row("bare Flask (calibration)")
        row.note = "a JSON hello under gunicorn gthread with the service's workers and threads"
        self.calibration["bare_flask_per_s"] = row.median().rate if row.median() else 0.0
        self.peer_rows.append(row)
        report.print_row(row)

    def check_machine(self, size: int) -> None:
        """The bare-Flask yardstick again just before a size's rows: the growth verdict divides by it,
        because this VM's speed drifted by a third within one run (bench/RESULTS.md, session 3)."""
        if self.args.no_calibration:
            return
        print(f"  machine check before the {size:,} rows: bare Flask under gunicorn ...", flush=True)
        row = self.bare_flask_row("bare Flask (machine check)")
        if row.median():
            self.calibration.setdefault("bare_flask_by_size", {})[size] = row.median().rate
            print(f"    {row.median().rate:,.0f}/s", flush=True)

    def bare_flask_row(self, name: str) -> Row:
        from buergerkonto.idp.cli import SERVE_THREADS  # the service's own threads per worker

        port = free_port()
        proc = calibration.start_bare_flask(port, self.args.workers, SERVE_THREADS, self.out / "bare-flask.log")
        try:
            from .service import wait_until_up

            wait_until_up(f"http://127.0.0.1:{port}/", proc)
            row = Row(name, None)
            self.wrk_row(row, f"http://127.0.0.1:{port}", ProcessTree(proc.pid), None, Request("GET", "/", {}))
            return row
        finally:
            proc.terminate()
            proc.wait(20)

    def machine(self) -> dict:
        from importlib.metadata import version

        from buergerkonto.idp import argon2_build

        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        return {
            "nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem / 1024 / 1024, 1),
            "load_before": os.getloadavg(),
            "python": platform.python_version(),
            "versions": {name: version(name) for name in ("Flask", "Authlib", "SQLAlchemy", "gunicorn", "psycopg",
                                                          "argon2-cffi", "httpx", "aiohttp")},
            "postgresql": pg_version(), "wrk": tools.version(["wrk", "-v"]),
            "node": tools.version(["node", "--version"]), "oidc-provider": peer_version(),
            "argon2_build": argon2_build.description(),
        }


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    bench = Bench(args)
    info = bench.machine()
    report.print_header(info, args)
    started = time.time()
    if not args.no_calibration:
        bench.run_calibration()
    with tempfile.TemporaryDirectory(prefix="bk-bench-") as tmp:
        bench.run_service(Path(tmp))
    bench.run_peer()
    info["oidc-provider"] = peer_version()  # installed by run_peer on a first run
    info["argon2"] = bench.argon2
    info["calibration"] = bench.calibration
    info["database"] = getattr(bench, "db_size", {})
    info["postbox_seeding"] = bench.postbox_seeding
    info["seconds"] = round(time.time() - started)
    text = report.render(bench.rows, bench.peer_rows, info, args)
    print()
    print(text)
    (Path(args.out) / "latest.md").write_text(text + "\n")
    (Path(args.out) / "latest.json").write_text(json.dumps({
        "machine": info, "settings": {k: v for k, v in vars(args).items()},
        "rows": [dict(asdict(r), median=asdict(r.median()) if r.median() else None)
                 for r in bench.rows + bench.peer_rows]}, indent=2, default=str))
    return 0 if report.all_pass(bench.rows) else 1
