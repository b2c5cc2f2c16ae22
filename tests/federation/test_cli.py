"""``buergerkonto upstream configure|show|remove``: stored configuration, secrets encrypted, private_key_jwt."""

import json

from support.upstream.harness import CLIENT_ID, CLIENT_SECRET
from support.upstream.helpers import identities


def _db_app(make_app):
    """An app without upstream settings in its configuration: the database decides."""
    return make_app(UPSTREAM_ISSUER=None, UPSTREAM_CLIENT_ID=None, UPSTREAM_CLIENT_SECRET=None)


def test_configure_stores_the_secret_encrypted_and_prints_what_to_register(make_app, upstream):
    app = _db_app(make_app)
    result = app.test_cli_runner().invoke(args=[
        "upstream", "configure", "--issuer", upstream.issuer, "--client-id", CLIENT_ID,
        "--client-secret", CLIENT_SECRET, "--acr-map", '{"urn:example:custom": "substantial"}', "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["redirect_uri"] == "http://localhost/federation/callback"
    assert payload["backchannel_logout_uri"] == "http://localhost/federation/backchannel-logout"
    assert payload["token_endpoint_auth_method"] == "client_secret_basic"
    with app.app_context():
        from buergerkonto.federation.models import Upstream

        row = Upstream.query.one()
        assert CLIENT_SECRET not in row.client_secret_enc
    shown = app.test_cli_runner().invoke(args=["upstream", "show", "--json"])
    data = json.loads(shown.output)
    assert data["source"] == "database" and data["acr_map"]["urn:example:custom"] == "substantial"
    assert CLIENT_SECRET not in shown.output


def test_configure_refuses_bad_input(make_app, upstream):
    runner = _db_app(make_app).test_cli_runner()
    both_missing = runner.invoke(args=["upstream", "configure", "--issuer", upstream.issuer, "--client-id", "x"])
    assert both_missing.exit_code != 0 and "exactly one" in both_missing.output
    bad_map = runner.invoke(args=["upstream", "configure", "--issuer", upstream.issuer, "--client-id", "x",
                                  "--client-secret", "s", "--acr-map", '{"a": "very-high"}'])
    assert bad_map.exit_code != 0
    plain_http = runner.invoke(args=["upstream", "configure", "--issuer", "http://servicekonto.example",
                                     "--client-id", "x", "--client-secret", "s"])
    assert plain_http.exit_code != 0


def test_stored_configuration_with_private_key_jwt_signs_in(make_app, upstream, citizen_upstream, tmp_path):
    from support.browser import Browser

    app = _db_app(make_app)
    key_file = tmp_path / "key.pem"
    key_file.write_text(upstream.private_key_pem)
    result = app.test_cli_runner().invoke(args=[
        "upstream", "configure", "--issuer", upstream.issuer, "--client-id", f"{CLIENT_ID}-key",
        "--private-key-file", str(key_file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["token_endpoint_auth_method"] == "private_key_jwt"

    browser = Browser(app.test_client())
    start = browser.get("/federation/start")
    assert start.status_code == 302
    callback = citizen_upstream.authorize(start.headers["Location"], "erika")
    assert browser.get(callback).headers["Location"] == "/federation/new"
    browser.submit("/federation/new", {}, selector="form[action='/federation/new']")
    assert [row[1:] for row in identities(app)][0][0] == "erika"


def test_show_and_remove_without_configuration(make_app):
    runner = _db_app(make_app).test_cli_runner()
    assert json.loads(runner.invoke(args=["upstream", "show", "--json"]).output) == {"configured": False}
    assert json.loads(runner.invoke(args=["upstream", "remove", "--json"]).output) == {"removed": 0}
