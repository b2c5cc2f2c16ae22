"""Which libargon2 build hashes the passwords, and a known-answer check that it hashes correctly.

PyPI's wheel of argon2-cffi-bindings is compiled for every x86-64 CPU, so libargon2 runs its SSE2 code.
Built for the CPU it runs on (``scripts/native-argon2``), the same library takes its AVX2 or AVX-512
path: on the reference VM one hash at m = 19 MiB, t = 2, p = 1 costs 13–16 instead of 31–39 ms. The
algorithm, its parameters and every hash stay the same; this module checks the first two before a
build is used, against RFC 9106's test vector (section 5.3).
"""

import sys
from importlib.metadata import distribution
from pathlib import Path

from argon2.low_level import ARGON2_VERSION, Type, core, ffi, lib

# RFC 9106, 5.3: Argon2id v19, 32 KiB, 3 passes, 4 lanes, password 32 x 0x01, salt 16 x 0x02,
# secret 8 x 0x03, associated data 12 x 0x04. Four lanes and the secret exercise more of the code than
# the service's own parameters do.
RFC9106_ARGON2ID_TAG = bytes.fromhex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")

# Written by scripts/native-argon2 into the virtualenv: the bindings' version, the compiler flags and
# the CPU it was built for.
MARKER_NAME = "argon2-build"


def rfc9106_argon2id_tag() -> bytes:
    """The tag the installed libargon2 computes for RFC 9106's Argon2id test vector."""
    out = ffi.new("uint8_t[]", 32)
    inputs = {name: ffi.new("uint8_t[]", value) for name, value in
              {"pwd": b"\x01" * 32, "salt": b"\x02" * 16, "secret": b"\x03" * 8, "ad": b"\x04" * 12}.items()}
    context = ffi.new("argon2_context *", {
        "version": ARGON2_VERSION, "out": out, "outlen": 32,
        "pwd": inputs["pwd"], "pwdlen": 32, "salt": inputs["salt"], "saltlen": 16,
        "secret": inputs["secret"], "secretlen": 8, "ad": inputs["ad"], "adlen": 12,
        "t_cost": 3, "m_cost": 32, "lanes": 4, "threads": 4,
        "allocate_cbk": ffi.NULL, "free_cbk": ffi.NULL, "flags": lib.ARGON2_DEFAULT_FLAGS,
    })
    status = core(context, Type.ID.value)
    if status != lib.ARGON2_OK:
        raise RuntimeError(f"argon2_ctx failed with status {status}")
    return bytes(ffi.buffer(out, 32))


def hashes_correctly() -> bool:
    return rfc9106_argon2id_tag() == RFC9106_ARGON2ID_TAG


def description() -> str:
    """Which build is installed, for the benchmark's header: built for this CPU (with its compiler flags),
    or PyPI's generic wheel (with its tags). A marker left behind after pip reinstalled the wheel counts
    for nothing: the installed wheel's tags decide."""
    dist = distribution("argon2-cffi-bindings")
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    marker = Path(sys.prefix) / MARKER_NAME
    if marker.is_file() and not any("manylinux" in tag or "musllinux" in tag for tag in tags):
        version, _, rest = marker.read_text().strip().partition(" ")
        flags = rest.rsplit(" ", 1)[0]
        return f"argon2-cffi-bindings {version} built for this CPU ({flags})"
    return f"argon2-cffi-bindings {dist.version}, PyPI's generic wheel ({', '.join(tags) or 'unknown tag'})"


def main() -> int:
    """Exit 0 when the installed libargon2 passes RFC 9106's Argon2id vector (scripts/native-argon2)."""
    if hashes_correctly():
        print("argon2id: RFC 9106 test vector passes")
        return 0
    print("argon2id: RFC 9106 test vector FAILS: this build must not be used", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
