"""Password hashing (argon2id) and the password policy of ASVS 6.2."""

import ctypes
import threading
import unicodedata
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 8
MAX_LENGTH = 128

# A well-formed hash of a random password: verifying against it when an account
# does not exist costs the same time as a real check, so timing tells nothing.
_DUMMY_PASSWORD = "not-an-account-7f1e0c9a"


def normalise(password: str) -> str:
    """Unicode passwords are compared in NFKC, so the same keystrokes always match."""
    return unicodedata.normalize("NFKC", password)


def hasher() -> PasswordHasher:
    """The argon2id hasher with the configured parameters."""
    _return_large_buffers_to_the_os()
    config = current_app.config
    return _hasher(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"])


@lru_cache(maxsize=1)
def _return_large_buffers_to_the_os() -> None:
    """Have glibc give argon2id's 19 MiB buffers back after each hash.

    glibc raises its mmap threshold after the first large free, so later buffers come from the
    thread's heap arena and stay resident: every thread that ever hashed kept 19 MiB (a gthread
    worker with four threads grew from 100 to 180 MiB). A fixed threshold keeps them mmap'ed.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


# Each argon2id run holds ARGON2_MEMORY_KIB (19 MiB) while it lasts. gunicorn's threads would
# otherwise run one per thread at once and a worker's memory would grow by 19 MiB per thread,
# for no gain in speed: the hashes share the same cores. So a process runs at most
# ARGON2_CONCURRENCY of them at a time; the others wait their turn (in C, without the GIL).
@lru_cache(maxsize=4)
def _slots(concurrency: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(1, concurrency))


def _argon2_slot():
    return _slots(int(current_app.config["ARGON2_CONCURRENCY"]))


def hash_password(password: str) -> str:
    with _argon2_slot():
        return hasher().hash(normalise(password))


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """Check ``password``; return (matches, needs_rehash). Costs the same without a hash."""
    ph = hasher()
    candidate = normalise(password)
    if not stored_hash:
        _burn_time(ph, candidate)
        return False, False
    try:
        with _argon2_slot():
            ph.verify(stored_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, ph.check_needs_rehash(stored_hash)


def _burn_time(ph: PasswordHasher, candidate: str) -> None:
    dummy = _dummy_hash(ph.time_cost, ph.memory_cost, ph.parallelism)
    try:
        with _argon2_slot():
            ph.verify(dummy, candidate)
    except VerificationError:
        pass


@lru_cache(maxsize=4)
def _dummy_hash(time_cost, memory_cost, parallelism) -> str:
    return _hasher(time_cost, memory_cost, parallelism).hash(_DUMMY_PASSWORD)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords (lower case)."""
    text = resources.files("buergerkonto.idp").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def policy_problems(password: str, email: str | None = None) -> list[str]:
    """Why ``password`` is refused (empty when it is acceptable).

    Length 8 to 128 and no composition rules (ASVS 6.2.1, 6.2.5); refused when
    it is a common password or built from the e-mail address or the names of
    the member municipalities (ASVS 6.2.4, 6.2.11).
    """
    password = normalise(password)
    if len(password) < MIN_LENGTH:
        return [_l("Use at least %(n)s characters.", n=MIN_LENGTH)]
    if len(password) > MAX_LENGTH:
        return [_l("Use at most %(n)s characters.", n=MAX_LENGTH)]
    lowered = password.casefold()
    if lowered in common_passwords():
        return [_l("This password is too common. Please choose another one.")]
    words = set()
    if email:
        local, _, domain = email.casefold().partition("@")
        words.update({local, email.casefold(), domain.split(".")[0]})
    for name in current_app.config["MUNICIPALITY_NAMES"]:
        words.add(name.casefold())
        words.update(part for part in name.casefold().split() if len(part) >= 4)
    words.update({"buergerkonto", "bürgerkonto"})
    for word in words:
        if len(word) >= 4 and word in lowered and len(lowered) - len(word) < 6:
            return [_l("The password must not be based on your e-mail address or a place name.")]
    return []
