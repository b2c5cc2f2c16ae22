"""Password hashing (argon2id) and the password policy of ASVS 6.2."""

import os
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
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
    config = current_app.config
    return _hasher(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"])


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


# argon2id runs on threads of its own, ARGON2_CONCURRENCY per process, never on the request's thread.
# Each run needs a buffer of ARGON2_MEMORY_KIB (19 MiB), and glibc keeps a freed buffer in the malloc
# arena of the thread that used it: hashed on gunicorn's request threads, a worker kept 19 MiB per
# thread. Giving the buffer back to the OS after every hash (a low mmap threshold) fixed the memory
# but made every hash fault in 4,864 fresh zeroed pages: 33 instead of 18 ms of CPU a hash, a third
# of it in the kernel. On their own threads the buffers are reused without a page fault, and a
# process holds ARGON2_CONCURRENCY of them, no more. The others wait their turn in the queue,
# without the GIL. (Buffers above glibc's largest mmap threshold, 32 MiB, are mapped afresh each time.)
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _hashing_threads() -> ThreadPoolExecutor:
    concurrency = max(1, int(current_app.config["ARGON2_CONCURRENCY"]))
    # Keyed by process: threads do not survive a fork (gunicorn's workers), so each process starts its own.
    key = (os.getpid(), concurrency)
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = ThreadPoolExecutor(concurrency, thread_name_prefix="argon2id")
    return pool


def _run(function, *args):
    """Run ``function`` on a hashing thread and wait for it (its exceptions are raised here)."""
    return _hashing_threads().submit(function, *args).result()


def hash_password(password: str) -> str:
    return _run(hasher().hash, normalise(password))


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """Check ``password``; return (matches, needs_rehash). Costs the same without a hash."""
    ph = hasher()
    candidate = normalise(password)
    if not stored_hash:
        _run(_burn_time, ph, candidate)
        return False, False
    try:
        _run(ph.verify, stored_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, ph.check_needs_rehash(stored_hash)


def _burn_time(ph: PasswordHasher, candidate: str) -> None:
    dummy = _dummy_hash(ph.time_cost, ph.memory_cost, ph.parallelism)
    try:
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
