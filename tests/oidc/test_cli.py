"""Operator commands: clients create|list|delete, keys rotate."""

import json


def test_clients_create_prints_id_and_secret_once_as_json(runner, app):
    from buergerkonto.idp.oidc.models import Client

    result = runner.invoke(args=["clients", "create", "--name", "Stadt Leer", "--redirect-uri",
                                 "https://leer.example/cb", "--redirect-uri", "https://leer.example/cb2",
                                 "--post-logout-redirect-uri", "https://leer.example/bye",
                                 "--backchannel-logout-uri", "https://leer.example/bc", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["client_id"] and len(data["client_secret"]) >= 40 and data["member"] is True
    with app.app_context():
        client = Client.query.filter_by(client_id=data["client_id"]).one()
        assert client.check_client_secret(data["client_secret"])
        assert client.redirect_uris == ["https://leer.example/cb", "https://leer.example/cb2"]
        assert client.backchannel_logout_uri == "https://leer.example/bc"
    listing = runner.invoke(args=["clients", "list", "--json"])
    assert data["client_secret"] not in listing.output and data["client_id"] in listing.output


def test_public_and_external_clients(runner):
    result = runner.invoke(args=["clients", "create", "--name", "App", "--redirect-uri", "http://127.0.0.1:8765/cb",
                                 "--public", "--external", "--json"])
    data = json.loads(result.output)
    assert data["client_secret"] is None and data["member"] is False
    assert data["token_endpoint_auth_method"] == "none"


def test_invalid_registrations_are_refused(runner):
    bad = [
        ["--redirect-uri", "http://portal.example/cb"],  # http only for loopback
        ["--redirect-uri", "https://portal.example/cb#frag"],
        ["--redirect-uri", "not a uri"],
        ["--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb"],  # no sector
        ["--redirect-uri", "https://a.example/cb", "--token-endpoint-auth-method", "private_key_jwt"],
        ["--redirect-uri", "https://a.example/cb", "--backchannel-logout-uri", "http://a.example/bc"],
    ]
    for args in bad:
        result = runner.invoke(args=["clients", "create", "--name", "X"] + args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output


def test_clients_delete_removes_client_and_its_tokens(runner, make_client, app):
    from buergerkonto.idp.oidc.models import Client

    reg = make_client()
    assert runner.invoke(args=["clients", "delete", reg["client_id"]]).exit_code == 0
    with app.app_context():
        assert Client.query.filter_by(client_id=reg["client_id"]).first() is None
    assert runner.invoke(args=["clients", "delete", reg["client_id"]]).exit_code != 0


def test_client_ids_are_usable_as_command_arguments():
    """Regression: a url-safe base64 id began with "-" one time in 64 and `clients delete` took it
    for an option."""
    from buergerkonto.idp.oidc.clients import new_client_id

    ids = {new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 32 and i.isalnum() for i in ids)


def test_clients_delete_takes_an_id_of_every_shape(runner, make_client, app):
    from buergerkonto.idp.extensions import db
    from buergerkonto.idp.oidc.models import Client

    reg = make_client()
    with app.app_context():
        # Clients registered before ids were hex may begin with "-".
        Client.query.filter_by(client_id=reg["client_id"]).update({"client_id": "-legacy-id"})
        db.session.commit()
    assert runner.invoke(args=["clients", "delete", "--", "-legacy-id"]).exit_code == 0
