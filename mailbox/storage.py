"""Where sealed attachment contents live: in the database row (default) or in a directory.

With ``POSTBOX_ATTACHMENT_DIR`` set, each sealed content is a file named by a
random token (never by the citizen's file name), created with mode 0600. A
file holds only ciphertext: without the wrapped data key in the database and
the KEK in the configuration it reads as noise.

A file and its row must come and go together, though the directory is not
part of the database transaction:

- A send writes its files only once the message row is inserted (``put``
  names the file on the row, ``write`` creates it), and each file is removed
  again if the transaction ends without a commit: an idempotency conflict, an
  unknown recipient, a database error, a failed commit.
- Purging or deleting an account removes the files only after the commit
  that deleted their rows (``remove``): a rolled-back deletion keeps them.
- What no hook can cover, a process that dies between writing and committing,
  or between committing a deletion and removing, leaves a file no row names.
  ``sweep_orphans`` (run by ``buergerkonto postbox purge``) removes those once
  they are older than ``ORPHAN_GRACE``: a send still in flight has its file
  younger than that (a request lives seconds), so a file the sweep removes
  can never become referenced by a commit still to come.
"""

import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..idp import aftercommit
from ..idp.extensions import db
from .models import Attachment

ORPHAN_GRACE = timedelta(hours=1)
_STORED_NAME = re.compile(r"[0-9a-f]{32}")
_TEMPORARY = re.compile(r"\.[0-9a-f]{32}\.tmp")


@dataclass
class PendingFile:
    """A file to write for a row about to be inserted."""

    path: Path
    sealed: bytes


def directory() -> Path | None:
    configured = current_app.config.get("POSTBOX_ATTACHMENT_DIR")
    return Path(configured) if configured else None


def put(attachment: Attachment, sealed: bytes) -> PendingFile | None:
    """Place the sealed content: in the row, or in a file named on the row, which ``write``
    creates once the row is inserted (returned here)."""
    folder = directory()
    if folder is None:
        attachment.content = sealed
        return None
    attachment.stored_name = secrets.token_hex(16)
    return PendingFile(folder / attachment.stored_name, sealed)


def write(pending) -> None:
    """Write the files of rows just inserted; each goes again if the transaction does not commit."""
    for item in pending:
        if item is None:
            continue
        aftercommit.on_rollback(lambda path=item.path: _unlink(path))
        _write_file(item.path, item.sealed)


def _write_file(path: Path, sealed: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(sealed)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        _unlink(temporary)
        raise


def get(attachment: Attachment) -> bytes:
    if attachment.stored_name is None:
        return attachment.content or b""
    folder = directory()
    if folder is None:
        raise FileNotFoundError("POSTBOX_ATTACHMENT_DIR is not configured, but attachments are stored there.")
    return (folder / attachment.stored_name).read_bytes()


def remove(stored_names) -> None:
    """Delete the files of rows this transaction deletes, once it has committed."""
    folder = directory()
    paths = [folder / name for name in stored_names if name] if folder is not None else []
    if paths:
        aftercommit.on_commit(lambda: [_unlink(path) for path in paths])


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def sweep_orphans(grace: timedelta = ORPHAN_GRACE, batch: int = 500) -> int:
    """Remove files older than ``grace`` that no attachment row names; return how many."""
    folder = directory()
    if folder is None or not folder.is_dir():
        return 0
    cutoff = time.time() - grace.total_seconds()
    removed, candidates = 0, {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
            if _TEMPORARY.fullmatch(entry.name):  # a write that never finished
                _unlink(Path(entry.path))
                removed += 1
            elif _STORED_NAME.fullmatch(entry.name):
                candidates[entry.name] = Path(entry.path)
            # Anything else is not ours: left alone.
    names = sorted(candidates)
    for start in range(0, len(names), batch):
        chunk = names[start:start + batch]
        known = set(db.session.scalars(select(Attachment.stored_name).where(Attachment.stored_name.in_(chunk))))
        for name in chunk:
            if name not in known:
                _unlink(candidates[name])
                removed += 1
    return removed
