"""The wheel: built from the source tree, installed into a fresh virtual environment, used from there.

These tests prove what DESIGN.md promises about the layout: the four parts
install under the ``buergerkonto`` namespace, the standard library's
``mailbox`` stays importable next to them, and templates, data files and
migrations ship inside the wheel (``buergerkonto db upgrade`` works from the
installed package alone, away from the source tree).
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("idp", "trust_levels", "federation", "mailbox")


def _run(args, cwd, env=None, check=True):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the tree, so the checkout gets no build/ or egg-info."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "instance",
        "tests", "node_modules", "demo-mail"))
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(source)], cwd=work)
    (built,) = (work / "dist").glob("buergerkonto-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its declared dependencies really installed; returns bin/."""
    target = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(target, with_pip=True)
    _run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], cwd=target)
    return target / "bin"


def _clean_env(**extra) -> dict:
    """The environment of a fresh shell: no BUERGERKONTO_* settings, nothing on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BUERGERKONTO_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def test_wheel_contains_templates_data_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "buergerkonto/__init__.py",
        "buergerkonto/idp/templates/base.html",
        "buergerkonto/idp/templates/auth/sign_in.html",
        "buergerkonto/idp/static/style.css",
        "buergerkonto/idp/data/common-passwords.txt",
        "buergerkonto/migrations/env.py",
        "buergerkonto/migrations/alembic.ini",
        "buergerkonto/migrations/script.py.mako",
    ):
        assert required in names, f"{required} missing from the wheel"
    # Every migration in the tree ships (later migrations included, whatever their ids).
    for migration in (ROOT / "migrations" / "versions").glob("*.py"):
        assert f"buergerkonto/migrations/versions/{migration.name}" in names
    # Every template of every part ships.
    for template in ROOT.glob("*/templates/**/*.html"):
        assert "buergerkonto/" + template.relative_to(ROOT).as_posix() in names
    # Nothing lands at the top level: no stray ``mailbox`` package shadowing the stdlib.
    top_level = {name.split("/")[0] for name in names}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"buergerkonto"}


def test_installed_wheel_imports_every_part_and_keeps_stdlib_mailbox(installed, tmp_path):
    code = (
        "import importlib, json, mailbox, sys\n"
        f"parts = {list(PARTS)!r}\n"
        "files = {p: importlib.import_module('buergerkonto.' + p).__file__ for p in parts}\n"
        "import buergerkonto.idp.app\n"
        "print(json.dumps({'files': files, 'maildir': hasattr(mailbox, 'Maildir'),"
        " 'mailbox_file': mailbox.__file__, 'prefix': sys.prefix}))\n"
    )
    result = _run([str(installed / "python"), "-c", code], cwd=tmp_path, env=_clean_env())
    found = json.loads(result.stdout)
    venv_root = str(installed.parent)
    for part, path in found["files"].items():
        assert path.startswith(venv_root) and "site-packages" in path, (part, path)
    assert found["maildir"] is True
    assert "site-packages" not in found["mailbox_file"]


def test_installed_cli_upgrades_a_fresh_sqlite_database_and_creates_an_account(installed, tmp_path):
    instance = tmp_path / "instance"
    env = _clean_env(BUERGERKONTO_INSTANCE_PATH=str(instance))
    _run([str(installed / "buergerkonto"), "db", "upgrade"], cwd=tmp_path, env=env)

    database = instance / "buergerkonto.sqlite"
    assert database.exists()
    assert (instance / "secret_key").exists()
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"account", "web_session", "event", "throttle_counter", "alembic_version"} <= tables

    created = _run([str(installed / "buergerkonto"), "accounts", "create", "--email", "Wheel@Example.org",
                    "--password", "Installiert-aus-dem-Rad-7", "--json"], cwd=tmp_path, env=env)
    payload = json.loads(created.stdout)
    assert payload["email"] == "wheel@example.org"
    with sqlite3.connect(database) as conn:
        row = conn.execute("SELECT uuid, email_verified_at FROM account WHERE email = ?",
                           ("wheel@example.org",)).fetchone()
    assert row[0] == payload["id"] and row[1] is not None
