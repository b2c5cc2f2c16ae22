"""The libargon2 that hashes passwords: built for this CPU (scripts/native-argon2), it must hash exactly
as PyPI's generic build does, or every stored password would stop matching when the build changes."""

import subprocess
import sys

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
import pytest

from buergerkonto.idp import argon2_build
from buergerkonto.idp.config import DEFAULTS

# Made with PyPI's wheel of argon2-cffi-bindings 25.1.0 (libargon2's SSE2 code) at the service's
# parameters: a build for this CPU must accept it, and refuse any other password.
WHEEL_HASH = "$argon2id$v=19$m=19456,t=2,p=1$xfWqa9reo/zvsTu2bepxbA$D6D/bdZP43g0KJmK3G8rBfabL3W766Y8pE5xUX9iUvQ"
WHEEL_PASSWORD = "Gänseblümchen-Wiese 2026"


def test_the_installed_build_computes_rfc_9106s_argon2id_tag():
    assert argon2_build.rfc9106_argon2id_tag().hex() == (
        "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
    assert argon2_build.hashes_correctly()


def test_a_hash_made_by_pypis_wheel_verifies_at_the_services_parameters():
    hasher = PasswordHasher(time_cost=DEFAULTS["ARGON2_TIME_COST"], memory_cost=DEFAULTS["ARGON2_MEMORY_KIB"],
                            parallelism=DEFAULTS["ARGON2_PARALLELISM"])
    assert hasher.verify(WHEEL_HASH, WHEEL_PASSWORD)
    assert not hasher.check_needs_rehash(WHEEL_HASH)
    with pytest.raises(VerifyMismatchError):
        hasher.verify(WHEEL_HASH, WHEEL_PASSWORD.replace("ä", "a"))


class _Dist:
    version = "26.2.0"

    def __init__(self, tag):
        self.tag = tag

    def read_text(self, name):
        return f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {self.tag}\n" if name == "WHEEL" else None


@pytest.mark.parametrize("tag, marker, expected", [
    ("cp310-abi3-linux_x86_64", "26.2.0 -O3 -march=native cpu:123",
     "argon2-cffi-bindings 26.2.0 built for this CPU (-O3 -march=native)"),
    # pip reinstalled the wheel after the build: the marker is stale and says nothing.
    ("cp310-abi3-manylinux_2_28_x86_64", "26.2.0 -O3 -march=native cpu:123",
     "argon2-cffi-bindings 26.2.0, PyPI's generic wheel (cp310-abi3-manylinux_2_28_x86_64)"),
    ("cp310-abi3-manylinux_2_28_x86_64", None,
     "argon2-cffi-bindings 26.2.0, PyPI's generic wheel (cp310-abi3-manylinux_2_28_x86_64)"),
])
def test_the_description_names_the_build_that_is_installed(monkeypatch, tmp_path, tag, marker, expected):
    monkeypatch.setattr(argon2_build, "distribution", lambda name: _Dist(tag))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    if marker:
        (tmp_path / argon2_build.MARKER_NAME).write_text(marker + "\n")
    assert argon2_build.description() == expected


def test_the_check_exits_zero_for_a_correct_build():
    run = subprocess.run([sys.executable, "-m", "buergerkonto.idp.argon2_build"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "passes" in run.stdout


def test_a_wrong_tag_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(argon2_build, "RFC9106_ARGON2ID_TAG", bytes(32))
    assert argon2_build.main() == 1
    assert "must not be used" in capsys.readouterr().err
