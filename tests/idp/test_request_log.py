"""The request log shows every request and none of the secrets in its address (``idp.request_log``).

The gunicorn test runs ``buergerkonto serve`` for real and reads what it writes.
"""

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.plugin import TEST_SECRET
from support.servers import free_port

SECRETS = ["mail-link-token-1", "reset-token-2", "staff-setup-token-3", "upstream-code-4", "state-5",
           "citizen@example.org", "refresh-6"]
TARGETS = [
    "/confirm-email/mail-link-token-1",
    "/reset-password/reset-token-2?lang=en",
    "/staff/setup/staff-setup-token-3",
    "/federation/callback?code=upstream-code-4&state=state-5&iss=http%3A%2F%2Fupstream",
    "/authorize?client_id=portal&login_hint=citizen@example.org&scope=openid",
    "/oauth/userinfo?refresh_token=refresh-6",
]


@pytest.fixture
def redact(app):
    from buergerkonto.idp.request_log import redact

    return redact


def test_tokens_in_paths_and_secret_parameters_are_redacted_the_rest_kept(redact):
    assert redact("/confirm-email/abc.DEF-123") == "/confirm-email/[redacted]"
    assert redact("/account/email/confirm/abc?lang=en") == "/account/email/confirm/[redacted]?lang=en"
    assert redact("/staff/setup/xyz") == "/staff/setup/[redacted]"
    assert (redact("GET /federation/callback?code=c0de&state=s7&iss=https%3A%2F%2Fid.land HTTP/1.1")
            == "GET /federation/callback?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fid.land HTTP/1.1")
    assert (redact("/authorize?client_id=p&login_hint=a%40b.de&ui_locales=en")
            == "/authorize?client_id=p&login_hint=[redacted]&ui_locales=en")
    assert redact("token=t&x=1") == "token=[redacted]&x=1"  # a bare query string
    assert redact("/x?access_token=a&id_token_hint=b") == "/x?access_token=[redacted]&id_token_hint=[redacted]"
    for kept in ("/account", "/oauth/userinfo", "/authorize/resume/f1ngerprint", "/postbox/42?page=2",
                 "/sessions/sid-1/end", "/sign-in?next=%2Faccount%3Flang%3Den"):
        assert redact(kept) == kept


def test_secret_parameters_inside_another_parameter_s_value_are_redacted_at_any_depth(redact):
    from urllib.parse import quote

    # The sign-in page carries the portal's authorization request in ``next``, encoded; its second
    # step carries the sign-in page's address, encoded once more.
    portal_request = "/authorize?client_id=c&state=S3CR3T&login_hint=erika@example.org&scope=openid"
    once = "/sign-in?next=" + quote(portal_request, safe="")
    twice = "/sign-in/second-factor?next=" + quote(once, safe="")
    for target in (once, twice, "/sign-in?next=" + quote(portal_request, safe="/"),
                   "GET " + once + " HTTP/1.1"):
        redacted = redact(target)
        assert "S3CR3T" not in redacted and "erika" not in redacted, redacted
        assert "client_id" in redacted and "scope" in redacted and "openid" in redacted  # the rest is kept


def test_the_development_server_log_is_redacted_once_per_process(app, make_app, caplog):
    make_app()  # a second app in the process adds no second filter
    werkzeug_log = logging.getLogger("werkzeug")
    assert sum(type(f).__name__ == "_RedactFilter" for f in werkzeug_log.filters) == 1
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        werkzeug_log.info('"%s" %s %s', "GET /reset-password/reset-token-2?code=c HTTP/1.1", "200", "-")
    assert "reset-token-2" not in caplog.text and "code=c" not in caplog.text
    assert '"GET /reset-password/[redacted]?code=[redacted] HTTP/1.1" 200 -' in caplog.text


def _serve(database: Path, log: Path, extra_env: dict | None = None):
    env = dict(os.environ, BUERGERKONTO_DATABASE_URL=f"sqlite:///{database}", BUERGERKONTO_SECRET_KEY=TEST_SECRET,
               BUERGERKONTO_INSTANCE_PATH=str(database.parent), BUERGERKONTO_MAIL_DELIVERY="inline",
               **(extra_env or {}))
    port = free_port()
    script = Path(sys.executable).parent / "buergerkonto"
    out = open(log, "wb")
    proc = subprocess.Popen([str(script), "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
                            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/.well-known/openid-configuration", timeout=2)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out.close()
                raise RuntimeError("serve did not start: " + log.read_text())
            time.sleep(0.2)
    return proc, out, base


def _stop(proc, out):
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    out.close()


@pytest.mark.parametrize("log_format", ["default", "operator's own"])
def test_gunicorn_access_lines_name_every_request_without_its_secrets(sqlite_template, tmp_path, log_format):
    database = tmp_path / "bk.sqlite"
    shutil.copy(sqlite_template, database)
    log = tmp_path / "serve.log"
    extra = {"HOME": str(tmp_path)}
    if log_format != "default":
        extra["GUNICORN_CMD_ARGS"] = "--access-logformat='%(r)s -> %(s)s %(U)s %(q)s'"
    proc, out, base = _serve(database, log, extra)
    try:
        with httpx.Client(base_url=base, follow_redirects=False) as http:
            for target in TARGETS:
                http.get(target, headers={"Referer": base + "/confirm-email/mail-link-token-1"})
    finally:
        _stop(proc, out)
    # serve opens no gunicorn control socket: its default path is one per user, shared by every instance.
    assert not (tmp_path / ".gunicorn").exists()
    text = log.read_text()
    for secret in SECRETS:
        assert secret not in text
    lines = [line for line in text.splitlines() if '"GET ' in line or " -> " in line]
    assert len(lines) == len(TARGETS) + 1  # and the start-up probe
    if log_format == "default":
        # gunicorn's "combined" format: address, user, time, request line, status, size, referrer, agent
        assert any(line.startswith('127.0.0.1 - - [') and '"GET /confirm-email/[redacted] HTTP/1.1" ' in line
                   and f'"{base}/confirm-email/[redacted]" "python-httpx/' in line for line in lines)
        assert any('"GET /federation/callback?code=[redacted]&state=[redacted]&iss=http%3A%2F%2Fupstream' in line
                   for line in lines)
    else:
        assert any(line.startswith("GET /staff/setup/[redacted] HTTP/1.1 -> ") for line in lines)
        assert any("login_hint=[redacted]&scope=openid" in line for line in lines)
