"""Short check codes: readable aloud, typed without mix-ups, shown as a QR code too.

Eight characters from an alphabet without look-alikes (no 0/O, 1/I/L) give
31^8 ≈ 8.5·10^11 possibilities; staff look-ups are throttled and audited,
and a code lives 30 days, so guessing one is not a practical attack.
"""

import secrets

import segno

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(raw: str | None) -> str | None:
    """The code as stored, from what someone typed or scanned (spaces, dashes, case ignored)."""
    cleaned = "".join(ch for ch in (raw or "").upper() if ch.isalnum())
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def display(code: str) -> str:
    """``ABCD-EFGH``: two groups of four are easier to read out and compare."""
    return f"{code[:4]}-{code[4:]}"


def qr_svg(code: str, title: str) -> str:
    """The code as an inline SVG QR code; a counter scanner types it into the look-up field."""
    return segno.make(display(code), error="m").svg_inline(scale=5, title=title, dark="#000", light="#fff")
