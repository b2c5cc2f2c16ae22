"""Driving ``wrk``: one Lua script per row, a JSON line from its ``done`` hook.

Static requests (discovery, JWKS, client credentials) use wrk's fast path.
Requests that need a token take one from a file: at random for userinfo and
introspection, each exactly once for refresh grants (rotation makes every
refresh token single-use), split between wrk's threads so none is sent twice.
"""

import json
import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DONE = r'''
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
'''


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for these ASCII values


@dataclass
class Request:
    """What wrk sends. ``{TOKEN}`` in a header value or the body is replaced from the pool,
    ``{UNIQUE}`` by a value unique to this request (a per-script nonce, the thread, a counter)."""

    method: str
    path: str
    headers: dict
    body: str | None = None
    pool: list[str] | None = None
    once: bool = False  # each pool entry used once (refresh tokens)

    def script(self, threads: int, pool_file: Path | None) -> str:
        headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in self.headers.items())
        if self.pool is None:
            lines = [f"wrk.method = {lua_string(self.method)}", f"wrk.path = {lua_string(self.path)}",
                     f"wrk.headers = {{{headers}}}"]
            if self.body is not None:
                lines.append(f"wrk.body = {lua_string(self.body)}")
            return "\n".join(lines) + DONE
        body = lua_string(self.body) if self.body is not None else "nil"
        nonce = secrets.token_hex(6)  # a fresh script per run: unique values never repeat across runs
        return f'''
local counter = 0
setup = function(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local tokens, index, sent = {{}}, 0, 0
init = function(args)
  local i = 0
  for line in io.lines({lua_string(str(pool_file))}) do
    if i % {threads} == tid then tokens[#tokens + 1] = line end
    i = i + 1
  end
  math.randomseed(os.time() * 7 + tid)
  checked = tid ~= 0
end
local header_template = {{{headers}}}
local body_template = {body}
request = function()
  local token
  if not checked then
    -- wrk calls request() once in the first thread, after init(), to count pipelined
    -- requests, and sends nothing of it: spend no token then.
    checked = true
    token = "not-sent"
  elseif {"true" if self.once else "false"} then
    index = index + 1
    token = tokens[index] or "pool-exhausted"
  else
    token = tokens[math.random(#tokens)]
  end
  sent = sent + 1
  local unique = "{nonce}-" .. tid .. "-" .. sent
  local function fill(text)
    return (text:gsub("{{TOKEN}}", token):gsub("{{UNIQUE}}", unique))
  end
  local headers = {{}}
  for k, v in pairs(header_template) do headers[k] = fill(v) end
  local body = body_template and fill(body_template) or nil
  return wrk.format({lua_string(self.method)}, {lua_string(self.path)}, headers, body)
end
''' + DONE


@dataclass
class Sample:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_ms: float = 0.0  # service CPU per request
    db_cpu_ms: float = 0.0  # PostgreSQL CPU per request

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(wrk: str, base: str, request: Request, seconds: float, connections: int, threads: int,
            pool: list[str] | None = None) -> Sample:
    with tempfile.TemporaryDirectory(prefix="bk-wrk-") as tmp:
        pool_file = None
        if pool is not None:
            pool_file = Path(tmp) / "pool.txt"
            pool_file.write_text("\n".join(pool) + "\n")
        script = Path(tmp) / "script.lua"
        script.write_text(request.script(threads, pool_file))
        out = subprocess.run([wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                              "--timeout", "10s", "-s", str(script), base + request.path],
                             capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON "):])
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return Sample(data["requests"], data["duration_us"] / 1e6, errors, data["p50_us"] / 1000,
                          data["p99_us"] / 1000)
    raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
