"""Where sealed attachment contents live: in the database row (default) or in a directory.

With ``POSTBOX_ATTACHMENT_DIR`` set, each sealed content is a file named by a
random token (never by the citizen's file name), created with mode 0600. A
file holds only ciphertext: without the wrapped data key in the database and
the KEK in the configuration it reads as noise.
"""

import os
import secrets
from pathlib import Path

from flask import current_app

from .models import Attachment


def directory() -> Path | None:
    configured = current_app.config.get("POSTBOX_ATTACHMENT_DIR")
    return Path(configured) if configured else None


def put(attachment: Attachment, sealed: bytes) -> None:
    folder = directory()
    if folder is None:
        attachment.content = sealed
        return
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = secrets.token_hex(16)
    temporary = folder / f".{name}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(sealed)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / name)
    attachment.stored_name = name


def get(attachment: Attachment) -> bytes:
    if attachment.stored_name is None:
        return attachment.content or b""
    folder = directory()
    if folder is None:
        raise FileNotFoundError("POSTBOX_ATTACHMENT_DIR is not configured, but attachments are stored there.")
    return (folder / attachment.stored_name).read_bytes()


def remove(stored_names) -> None:
    """Delete stored files (after their rows are gone); missing files are fine."""
    folder = directory()
    if folder is None:
        return
    for name in stored_names:
        if name:
            try:
                (folder / name).unlink()
            except FileNotFoundError:
                pass
