"""The sign-in row's load generator (bench/signin.py) against the real app on a loopback server.

The row is only worth its number if every counted sign-in is a whole one: a
fresh browser session that gets the sign-in page, posts the password and
redeems its code with PKCE for an ID token. A client that carried cookies from
one flow to the next would count single sign-on redirects as sign-ins without
ever checking a password; these tests pin that it does not, and that a failed
step is counted as an error with its message, never as a sign-in.
"""

import asyncio
import threading

import pytest
from werkzeug.serving import make_server

from support.plugin import base_config, close_app
from support.servers import free_port

from bench import signin
from bench.database import PASSWORD, REDIRECT_URI, basic_auth, email_of

ACCOUNTS = 2


@pytest.fixture
def live(database_url, smtp):
    """The app on 127.0.0.1 with the bench's accounts (citizen1.., the bench password) and a member portal."""
    from buergerkonto.idp import accounts, create_app
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc import clients

    port = free_port()
    config = base_config(database_url, smtp.port) | {"ISSUER": f"http://127.0.0.1:{port}"}
    app = create_app(config)
    with app.app_context():
        for n in range(1, ACCOUNTS + 1):
            accounts.create_account(email_of(n), PASSWORD, f"Bürger {n}", verified=True)
        portal, secret = clients.create_client("Benchmark portal", [REDIRECT_URI])
        db.session.commit()
        client_id = portal.client_id
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, config["ISSUER"], client_id, basic_auth(client_id, secret)
    server.shutdown()
    thread.join(timeout=10)
    close_app(app)


def _logins(app) -> list[dict]:
    from buergerkonto.idp.models import Event

    with app.app_context():
        return [e.details for e in Event.query.filter_by(tag="account:login:success").order_by(Event.id)]


def _flows(base, client_id, auth, count, accounts=ACCOUNTS):
    """``count`` flows one after the other on one client session with a single keep-alive connection."""

    async def go():
        async with signin.open_session(base, 1) as http:
            done = []
            for _ in range(count):
                flow = signin.Flow(http, client_id, auth, accounts)
                token, email = await flow.run()
                done.append((token, email, flow.requests))
            return done

    return asyncio.run(go())


def test_each_flow_signs_in_with_the_password_in_a_fresh_session_even_on_one_connection(live):
    app, base, client_id, auth = live
    done = _flows(base, client_id, auth, 3, accounts=1)
    assert [email for _, email, _ in done] == [email_of(1)] * 3
    assert all(token for token, _, _ in done)
    # The same account three times on one connection: without cookies carried over, each flow
    # goes through the sign-in page again and starts a browser session of its own.
    logins = _logins(app)
    assert len(logins) == 3
    assert len({login["sid"] for login in logins}) == 3
    assert len({requests for _, _, requests in done}) == 1


def test_a_refused_password_is_an_error_not_a_sign_in(live, monkeypatch):
    app, base, client_id, auth = live
    monkeypatch.setattr(signin, "PASSWORD", "not-the-password-1234")
    with pytest.raises(signin.FlowError, match="sign-in answered 401"):
        _flows(base, client_id, auth, 1)
    assert _logins(app) == []


def test_a_refused_client_secret_is_an_error_with_the_token_endpoints_answer(live):
    app, base, client_id, _ = live
    with pytest.raises(signin.FlowError, match="token endpoint answered 401"):
        _flows(base, client_id, basic_auth(client_id, "wrong-secret"), 1)


def test_run_signins_counts_whole_sign_ins_and_their_requests(live):
    app, base, client_id, auth = live
    durations, tokens, errors, requests, elapsed = signin.run_signins(base, client_id, auth, ACCOUNTS, 0.5, 2)
    assert errors == []
    # Every flow that starts before the deadline finishes: at least one per connection.
    assert len(durations) == len(tokens) >= 2
    assert len(_logins(app)) == len(tokens)
    assert requests == len(tokens) * _flows(base, client_id, auth, 1)[0][2]
    assert elapsed > 0
