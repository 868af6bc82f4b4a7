"""The system user the embedded PostgreSQL runs as when the platform runs as root
(PostgreSQL refuses to run as root): ``embedded_postgres``, with its own group only.

Its processes get the user's own group and no supplementary groups: started from root with
only ``user=``, they kept root's group (gid 0) and read files only root's group may read
(review 132). Nothing here widens a folder's permissions: a data directory (or the
PostgreSQL binaries) the user cannot reach is refused, naming the folder in the way
(``SystemUserCannotReach``).
"""

from __future__ import annotations

import pwd
import subprocess
from pathlib import Path
from typing import Any

SYSTEM_USER = "embedded_postgres"


class SystemUserCannotReach(RuntimeError):
    """A folder the system user must reach is closed to it; nothing was changed."""


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
    """SystemUserCannotReach, naming the first folder in the way and the permission it
    lacks, unless the system user can reach ``path`` (search every folder above it). Asks
    the kernel as that user (``test -x``): ACLs and groups count as they will."""
    if _reaches(path):
        return
    blocking = next((f for f in reversed(path.parents) if not _reaches(f)), path)
    status = blocking.stat()
    owner = _user_name(status.st_uid)
    raise SystemUserCannotReach(
        f"the embedded PostgreSQL runs as the system user {SYSTEM_USER}, which cannot reach "
        f"{what} {path}: {blocking} (owner {owner}, mode {status.st_mode & 0o7777:04o}) "
        f"does not let other users through. Nothing was changed: either allow it yourself "
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
