"""The embedded PostgreSQL's password (review 132): every connection, through TCP or the
Unix socket, gives it (scram-sha-256), so that no other local user can use the server.

Generated once, into ``<data dir>/secrets/postgres-password`` (0600, in the 0700 folder of
the patient-matching key: ``shared.secret_files``), by the embedded server's first start
(``shared.embedded.postgres``); read from there by the server's DSNs and by
``PlatformSettings.postgres_dsn`` (the `cachexia` operator commands). Never printed or
logged: a DSN holding it is shown through ``shared.addresses.masked_url``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from pathlib import Path
from urllib.parse import quote

PASSWORD_FILE = Path("secrets") / "postgres-password"
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
AUTH_METHOD = "scram-sha-256"
PG_HBA = (  # the pg_hba.conf given to a cluster that trusted every local connection
    "# written by the platform: every connection gives the password (review 132)\n"
    "# TYPE  DATABASE     USER  ADDRESS       METHOD\n"
    f"local   all          all                 {AUTH_METHOD}\n"
    f"host    all          all   127.0.0.1/32  {AUTH_METHOD}\n"
    f"host    all          all   ::1/128       {AUTH_METHOD}\n"
    f"local   replication  all                 {AUTH_METHOD}\n"
    f"host    replication  all   127.0.0.1/32  {AUTH_METHOD}\n"
    f"host    replication  all   ::1/128       {AUTH_METHOD}\n"
)
_TRUST_LINE = re.compile(r"^\s*(local|host\w*)\s.*\strust\s*(#.*)?$", re.MULTILINE)


def new_password() -> str:
    return secrets.token_hex(32)


def read_password(path: Path) -> str | None:
    """The password in ``path``; None when there is none (a server that asks for none: an
    earlier version's, upgraded at its next start) or it cannot be read (another user's
    platform: the server then refuses the connection, and says so)."""
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def user_part(password: str | None, user: str = "postgres") -> str:
    """The user part of a postgresql:// URL (``user:password``), the password quoted."""
    return f"{user}:{quote(password, safe='')}" if password else user


def trusts(pg_hba: str) -> bool:
    """Whether a pg_hba.conf lets some connection in without a password (an earlier
    version initialised the cluster with --auth=trust)."""
    return bool(_TRUST_LINE.search(pg_hba))


def scram_verifier(password: str, iterations: int = SCRAM_ITERATIONS) -> str:
    """What PostgreSQL stores for a scram-sha-256 password (RFC 5802, 7677), computed here
    so that ALTER ROLE ... PASSWORD carries no password the server could log. The
    password is ASCII (``new_password``), which SASLprep leaves as it is."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
