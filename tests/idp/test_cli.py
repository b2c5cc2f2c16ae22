"""The operator's console script: ``buergerkonto accounts create`` and friends."""

import json

import pytest

from buergerkonto.idp.cli import main

from .conftest import sign_in


def _create(runner, *args):
    return runner.invoke(main, ["accounts", "create", *args])


def test_accounts_create_json_prints_one_object_with_the_id(runner, database, browser):
    result = _create(runner, "--email", "Operator@Example.ORG", "--password", "Vom-Amt-angelegt-2026",
                     "--name", "Olga Operator", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert isinstance(payload, dict)
    row = database.account("operator@example.org")
    assert payload["id"] == row["uuid"]
    assert payload["email"] == "operator@example.org"
    assert row["name"] == "Olga Operator"
    # The operator vouches for the address: it counts as verified and sign-in works at once.
    assert row["email_verified_at"] is not None
    assert sign_in(browser, "operator@example.org", "Vom-Amt-angelegt-2026").status_code == 302
    assert "account:create" in database.tags(row["id"])


def test_accounts_create_without_json_speaks_a_sentence(runner, database):
    result = _create(runner, "--email", "satz@example.org", "--password", "Ein-ganzer-Satz-2026")
    assert result.exit_code == 0
    assert database.account("satz@example.org")["uuid"] in result.output
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.output)


def test_accounts_create_reads_the_password_from_a_prompt(runner, database):
    result = runner.invoke(main, ["accounts", "create", "--email", "prompt@example.org", "--password", "-"],
                           input="Geheim-und-lang-2026\nGeheim-und-lang-2026\n")
    assert result.exit_code == 0, result.output
    assert "Geheim-und-lang-2026" not in result.output
    assert database.account("prompt@example.org") is not None


def test_accounts_create_refuses_a_duplicate_address_in_any_spelling(runner, database):
    assert _create(runner, "--email", "doppelt@example.org", "--password", "Erstes-Konto-2026").exit_code == 0
    result = _create(runner, "--email", "DOPPELT@example.org", "--password", "Zweites-Konto-2026", "--json")
    assert result.exit_code != 0
    assert "exists already" in result.output
    assert result.stdout.strip() == "" or not result.stdout.lstrip().startswith("{")
    assert len(database.rows("SELECT id FROM account")) == 1


@pytest.mark.parametrize("password, reason", [
    ("kurz", "mindestens 8"),
    ("password123", "zu weit verbreitet"),
    ("amtsleer-2026", None),  # fine: no refusal expected (control case)
    ("Moormerland1", "Ortsnamen"),
])
def test_accounts_create_refuses_a_bad_password_with_the_reason(runner, database, password, reason):
    result = _create(runner, "--email", "pw@example.org", "--password", password, "--json")
    if reason is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code != 0
    assert "Password refused" in result.output and reason in result.output
    assert "Traceback" not in result.output
    assert database.account("pw@example.org") is None


@pytest.mark.parametrize("email", ["kein-at", "a@b", "x" * 250 + "@example.org", "zwei@@example.org", ""])
def test_accounts_create_refuses_a_bad_address(runner, database, email):
    result = _create(runner, "--email", email, "--password", "Gutes-Passwort-2026")
    assert result.exit_code != 0
    assert "not valid" in result.output
    assert database.rows("SELECT id FROM account") == []
