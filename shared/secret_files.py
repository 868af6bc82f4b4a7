"""Files that hold one of the platform's secrets: created once, atomically, readable by
their owner only (0600, in a 0700 folder), never replaced while in use.

Used for the patient-matching key (``shared.secrets``) and the embedded PostgreSQL's
password (``shared.embedded.password``). No setting is read here: ``shared.settings``
itself reads the password file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def create_secret_file(path: Path, secret: str) -> None:
    """Write ``secret`` to a temporary file, flush it to disk, then link it into place:
    the file is complete or absent, and a secret another process created first is kept."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:  # mkstemp: mode 0600
        with os.fdopen(descriptor, "w") as secret_file:
            secret_file.write(secret)
            secret_file.flush()
            os.fsync(secret_file.fileno())
        try:
            os.link(temporary, path)  # fails if it exists: never replaces a secret in use
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temporary, path)
        sync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system can open a directory
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
