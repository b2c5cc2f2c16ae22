"""Mail leaves in the background: a request never waits for the mail server, and the outbox decides.

The app here sends through ``StallingSmtp``: it accepts the connection and says
nothing until the test releases it (then it passes the conversation through to
the real test server) or hangs up.
"""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from support.faults import allow_events, refuse_event
from support.plugin import TEST_SECRET, base_config
from support.servers import StallingSmtp

from .conftest import register


@pytest.fixture
def stalling(smtp):
    server = StallingSmtp(smtp.port).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _unstall_before_the_app_stops(request, stalling):
    """A failed test may leave the courier in a stalled conversation: end it before the app's teardown
    waits for the courier."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app")
    yield
    stalling.stop()


@pytest.fixture
def app_config(database_url, smtp, stalling):
    # SMTP_TIMEOUT only bounds a broken test's wait; no test expects it to pass.
    return dict(base_config(database_url, smtp.port), SMTP_PORT=stalling.port, SMTP_TIMEOUT=30)


@pytest.fixture
def operator(make_app, smtp):
    """The operator's ``buergerkonto`` command: another process on the same database, whose mail
    server works."""
    from buergerkonto.idp.cli import main

    runner = make_app(SMTP_PORT=smtp.port).test_cli_runner()
    return lambda *args: runner.invoke(main, list(args))


def _outbox(database, address):
    return database.one("SELECT claimed_at, sent_at, body, attempts, last_error FROM mail_outbox "
                        "WHERE recipient = :a", a=address)


def test_the_response_does_not_wait_for_a_stalled_mail_server(browser, stalling, smtp, database):
    response = register(browser, "geduld@example.org")
    assert response.status_code == 302
    # The answer is here, yet the courier sits in its SMTP conversation with a server that has not
    # said a word: the mail is claimed, not delivered, not failed.
    stalling.wait_held(1)
    row = _outbox(database, "geduld@example.org")
    assert row["claimed_at"] is not None and row["sent_at"] is None and row["body"] and row["last_error"] is None
    assert smtp.to("geduld@example.org") == []

    stalling.release()
    assert "/confirm-email/" in smtp.link("geduld@example.org", "/confirm-email/")
    smtp.settle()
    row = _outbox(database, "geduld@example.org")
    assert row["body"] == "" and row["sent_at"] is not None and row["attempts"] == 1 and row["last_error"] is None
    assert len(smtp.to("geduld@example.org")) == 1


def test_mail_the_server_refused_stays_pending_for_mail_deliver(browser, stalling, smtp, database, operator):
    assert register(browser, "spaeter@example.org").status_code == 302
    stalling.wait_held(1)
    stalling.hang_up()
    smtp.settle()
    row = _outbox(database, "spaeter@example.org")
    assert row["sent_at"] is None and row["claimed_at"] is None
    assert row["last_error"] == "SMTPServerDisconnected" and row["body"]

    result = operator("mail", "deliver")
    assert result.exit_code == 0, result.output
    assert "1 message(s) delivered." in result.output
    # The command is synchronous: the mail is there when it has answered.
    assert len(smtp.to("spaeter@example.org")) == 1
    assert _outbox(database, "spaeter@example.org")["body"] == ""


def test_courier_and_mail_deliver_racing_send_each_message_once(browser, stalling, smtp, database, operator):
    addresses = [f"wettlauf{n}@example.org" for n in range(3)]
    for address in addresses:
        assert register(browser, address).status_code == 302
    # The courier holds the first mail in its stalled conversation, the others wait behind it.
    stalling.wait_held(1)
    result = operator("mail", "deliver")
    assert result.exit_code == 0, result.output
    assert "2 message(s) delivered." in result.output  # the claimed one is not the command's

    stalling.release()
    smtp.settle()
    for address in addresses:
        assert len(smtp.to(address)) == 1, address
        row = _outbox(database, address)
        assert row["body"] == "" and row["attempts"] == 1
    assert stalling.accepted == 1  # the courier found the other two delivered and did not send again


def test_a_deliverer_killed_mid_send_leaves_the_message_to_the_next_run_once_its_claim_is_stale(
        app, database_url, stalling, smtp, database, operator, tmp_path):
    """A deliverer dies (killed, restarted) while the mail server has the message: nothing was sent.
    Its claim keeps others off while it might still be sending; once older than any send can take,
    the next run sends the message. (It used to be marked sent when claimed, and was lost.)"""
    if not database_url.startswith("postgresql"):
        pytest.skip("another process shares the database: PostgreSQL")
    from buergerkonto.idp import mail
    from buergerkonto.idp.extensions import db

    address = "absturz@example.org"
    with app.app_context():  # queued outside a request, as a command does: the row only
        mail.queue(address, "Bitte bestätigen", "Ihr Link: http://localhost/confirm-email/abc")
        db.session.commit()
        db.session.remove()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERKONTO_")}
    env.update(BUERGERKONTO_DATABASE_URL=database_url, BUERGERKONTO_SECRET_KEY=TEST_SECRET,
               BUERGERKONTO_SMTP_HOST="127.0.0.1", BUERGERKONTO_SMTP_PORT=str(stalling.port),
               BUERGERKONTO_SMTP_TIMEOUT="60", BUERGERKONTO_INSTANCE_PATH=str(tmp_path))
    deliverer = subprocess.Popen([str(Path(sys.executable).parent / "buergerkonto"), "mail", "deliver"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        stalling.wait_held(1)  # claimed, committed, in the SMTP conversation
    finally:
        deliverer.kill()
        deliverer.wait(30)
    stalling.hang_up()

    # A claim this young may belong to a deliverer still sending: not taken over.
    result = operator("mail", "deliver")
    assert result.exit_code == 0 and "0 message(s) delivered." in result.output, result.output
    # Later, past any send's length, the next run takes it back and sends it, once.
    with app.app_context():
        age = mail.stale_claim_age(app) + timedelta(seconds=1)
    database.execute("UPDATE mail_outbox SET claimed_at = claimed_at - :age WHERE recipient = :a", age=age, a=address)
    result = operator("mail", "deliver")
    assert result.exit_code == 0 and "1 message(s) delivered." in result.output, result.output
    smtp.settle()
    assert len(smtp.to(address)) == 1
    row = _outbox(database, address)
    assert row["sent_at"] is not None and row["body"] == "" and row["attempts"] == 2


def test_a_message_sent_again_carries_the_same_message_id(app):
    from buergerkonto.idp import mail

    with app.app_context():
        first, again, other = (mail._build("a@example.org", "Betreff", "Text", ident)["Message-ID"]
                               for ident in (7, 7, 8))
    assert first == again != other
    assert re.fullmatch(r"<[0-9a-f]{32}@buergerkonto\.invalid>", first)  # keyed: it does not count the mail sent


def test_a_rolled_back_requests_mail_is_never_sent(app, browser, stalling, smtp, database, make_account):
    stalling.release()
    account = make_account()
    # The reset mail is queued, then the event after it fails: the request rolls back.
    refuse_event(app, "account:password:reset_requested")
    response = browser.submit("/forgot-password", {"email": account["email"]})
    assert response.status_code == 500
    assert _outbox(database, account["email"]) is None
    smtp.settle()
    assert smtp.to(account["email"]) == []
    # The same request, committed, does send: the refusal above is what kept the mail back.
    allow_events(app)
    assert browser.submit("/forgot-password", {"email": account["email"]}).status_code == 200
    assert "/reset-password/" in smtp.link(account["email"], "/reset-password/")
    smtp.settle()
    assert len(smtp.to(account["email"])) == 1


def test_inline_delivery_sends_before_the_response(make_app, smtp):
    from support.browser import Browser

    app = make_app(SMTP_PORT=smtp.port, MAIL_DELIVERY="inline")
    response = register(Browser(app.test_client()), "sofort@example.org")
    assert response.status_code == 302
    # No waiting: the request itself delivered after its commit.
    assert len(smtp.to("sofort@example.org")) == 1


def test_an_unknown_delivery_mode_is_refused_at_start(database_url):
    from buergerkonto.idp import create_app
    from buergerkonto.idp.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="MAIL_DELIVERY"):
        create_app(dict(base_config(database_url), MAIL_DELIVERY="sometimes"))


def test_a_stopped_courier_takes_nothing_more_and_the_mail_stays_pending(app, browser, stalling, smtp, database):
    from buergerkonto.idp import courier

    stalling.release()
    assert courier.shutdown(app, timeout=60)
    assert register(browser, "danach@example.org").status_code == 302
    smtp.settle()
    assert smtp.to("danach@example.org") == []
    row = _outbox(database, "danach@example.org")
    assert row["sent_at"] is None and row["body"]


def test_a_forked_worker_starts_its_own_courier(app, browser, stalling, smtp):
    """gunicorn forks workers from a parent that may have run a courier already: the child's is new."""
    import os

    from buergerkonto.idp import courier
    from buergerkonto.idp.extensions import db
    from support.browser import Browser

    stalling.release()
    assert register(browser, "eltern@example.org").status_code == 302
    smtp.wait_for("eltern@example.org")
    smtp.settle()
    pid = os.fork()
    if pid == 0:  # the worker: report by exit status, never return into pytest
        status = 1
        try:
            with app.app_context():
                db.engine.dispose(close=False)  # the parent's pooled connections are not the child's
            response = register(Browser(app.test_client()), "kind@example.org")
            status = 0 if response.status_code == 302 and courier.drain_all(60) else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "/confirm-email/" in smtp.link("kind@example.org", "/confirm-email/")


@pytest.mark.parametrize(("url", "mode", "background"), [
    ("sqlite:////srv/bk.sqlite", "background", True),
    ("postgresql+psycopg://bk@db/bk", "background", True),
    ("postgresql+psycopg://bk@db/bk", "inline", False),
    # The courier's own connection to an in-memory database would open another, empty one.
    ("sqlite://", "background", False),
    ("sqlite:///:memory:", "background", False),
])
def test_who_delivers(url, mode, background):
    from buergerkonto.idp import create_app, mail

    app = create_app({"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": url, "MAIL_DELIVERY": mode})
    assert mail.delivers_in_background(app) is background


def test_delivery_leaves_the_process_wide_random_generator_alone(app, stalling, smtp, make_account):
    """The courier runs beside everything else in the process; drawing from the shared ``random``
    state there would change what other code draws (Hypothesis in the API conformance test
    reports it as a strategy using ``random``)."""
    import random

    from buergerkonto.idp import mail
    from buergerkonto.idp.extensions import db

    stalling.release()
    account = make_account()
    with app.app_context():
        mail.queue(account["email"], "Betreff", "Text")
        db.session.commit()
        before = random.getstate()
        assert mail.deliver_pending() == 1
        assert random.getstate() == before
        db.session.remove()
    assert smtp.wait_for(account["email"])["Message-ID"].endswith("@buergerkonto.invalid>")
