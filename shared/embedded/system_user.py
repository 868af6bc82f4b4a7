"""The system user the embedded PostgreSQL runs as when the platform runs as root
(PostgreSQL refuses to run as root): ``embedded_postgres``, with its own group only.

Its processes get the user's own group and no supplementary groups: started from root with
only ``user=``, they kept root's group (gid 0) and read files only root's group may read
(review 132). A folder in the way of the data directory or the PostgreSQL binaries (a project
in /root, 0700) is opened for passage only (``o+x``: others may pass through it to what they
are allowed to read, never list it; before, every parent was given ``g+rx,o+rx`` silently), and
only when root owns it; each folder so opened is said on stderr, and one that cannot be is
refused, naming it (``SystemUserCannotReach``): `make run` must start on a fresh machine, from
wherever the project was cloned.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

SYSTEM_USER = "embedded_postgres"


class SystemUserCannotReach(RuntimeError):
    """A folder the system user must reach is closed to it and cannot be opened for it."""


def ensure_system_user() -> None:
    """Create the system user unless it exists. Another process starting a cluster (a test
    worker, a second platform) may create it meanwhile: its useradd failing is no error
    when the user is there afterwards."""
    if _system_user_exists():
        return
    created = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--user-group", SYSTEM_USER],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if created.returncode != 0 and not _system_user_exists():
        raise RuntimeError(f"cannot create the system user {SYSTEM_USER}: {created.stderr.strip()}")


def _system_user_exists() -> bool:
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return False
    return True


def system_user_ids() -> tuple[int, int]:
    """The system user's uid and its own (primary) group's gid."""
    entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def as_system_user() -> dict[str, Any]:
    """``subprocess`` arguments that run a program as the system user, in its own group
    only (not root's, nor root's supplementary groups)."""
    uid, gid = system_user_ids()
    return {"user": uid, "group": gid, "extra_groups": []}


def check_reachable(path: Path, what: str, remedy: str) -> None:
    """Let the system user reach ``path``: each folder above it that it cannot pass through
    (asked of the kernel as that user, ``test -x``: ACLs and groups count as they will) is
    given ``o+x`` when root owns it, and said; SystemUserCannotReach, naming the folder in
    the way, when one cannot be opened so."""
    if _reaches(path):
        return
    for folder in reversed(path.parents):
        if _reaches(folder):
            continue
        status = folder.stat()
        if status.st_uid != os.geteuid():  # another's folder: never ours to open
            raise SystemUserCannotReach(_closed(folder, path, what, remedy))
        folder.chmod(stat.S_IMODE(status.st_mode) | stat.S_IXOTH)
        sys.stderr.write(
            f"note: let other users pass through {folder} (o+x: search only, not listing) so "
            f"that the embedded PostgreSQL's system user {SYSTEM_USER} reaches {what} {path}\n"
        )
    if not _reaches(path):
        blocking = next((f for f in reversed(path.parents) if not _reaches(f)), path)
        raise SystemUserCannotReach(_closed(blocking, path, what, remedy))


def _closed(blocking: Path, path: Path, what: str, remedy: str) -> str:
    status = blocking.stat()
    return (
        f"the embedded PostgreSQL runs as the system user {SYSTEM_USER}, which cannot reach "
        f"{what} {path}: {blocking} (owner {_user_name(status.st_uid)}, mode "
        f"{status.st_mode & 0o7777:04o}) does not let other users through: allow it "
        f"(chmod o+x {blocking}) or {remedy}"
    )


def _reaches(path: Path) -> bool:
    tried = subprocess.run(
        ["test", "-x", str(path)], capture_output=True, check=False, cwd="/", **as_system_user()
    )
    return tried.returncode == 0


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
