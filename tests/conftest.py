"""Session-scoped real infrastructure: embedded PostgreSQL and the Tansu broker.

Each test gets a fresh database (cheap: CREATE DATABASE) and, where it needs one, its own
broker on a free port (memory storage starts in milliseconds), so tests never share
consumer groups or topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings

from bench.infra import free_port, use_port_range
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu
from shared.settings import SERVICE_NAMES, PlatformSettings, setting_variable

log = logging.getLogger(__name__)

TEST_SUBJECT_HMAC_KEY = "test-only-subject-hmac-key-0123456789abcdef"

# Speed is measured by the benchmarks, never by tests: an example that takes long on a busy
# machine (the suite runs several workers on two cores) is no failure.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker picks ports from its own slice of the range: workers start
    servers side by side, and each remembers only the ports it handed out itself."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        use_port_range(int(worker["workerid"].removeprefix("gw")), int(worker["workercount"]))


# The session's server, stopped once at the end: a fast stop writes a checkpoint first, which
# on a machine busy with the suite's other workers took 20 s (pg_ctl's default) and more.
SESSION_STOP_SECONDS = 120
DROP_SECONDS = 30


@contextlib.contextmanager
def server_folder_made() -> Iterator[Path]:
    """A folder for an embedded PostgreSQL's data under the system's temporary folder, not
    pytest's: as root PostgreSQL runs as its own system user, which must pass through every
    parent folder, and pytest's folders are 0700 (each new pytest run of the same user sets
    its root folder back to 0700; the server then aborted with "could not open file
    .../global/pg_control: Permission denied"). EmbeddedPostgres opens no folder itself
    (review 132): this one, the test's own, lets other users through (0711)."""
    folder = Path(tempfile.mkdtemp(prefix="cachexia-test-pg-"))
    try:
        folder.chmod(0o711)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server_folder() -> Iterator[Path]:
    """A folder to keep an embedded PostgreSQL's data in (``server_folder_made``)."""
    with server_folder_made() as folder:
        yield folder


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """The session's server, its data in a folder of its own (``server_folder_made``)."""
    with server_folder_made() as folder:
        server = EmbeddedPostgres(folder / "data", free_port())
        server.start()
        yield server
        stop_session_server(server)


def stop_session_server(server: EmbeddedPostgres) -> None:
    """A fast stop, given long enough; if it still fails, an immediate one (the session's
    data is thrown away: no checkpoint is needed)."""
    try:
        server.stop(timeout_seconds=SESSION_STOP_SECONDS)
    except RuntimeError as error:
        log.warning("the test PostgreSQL did not stop in time; stopping it at once: %s", error)
        server.stop(timeout_seconds=SESSION_STOP_SECONDS, mode="immediate")


@pytest.fixture
async def database(pg_server: EmbeddedPostgres) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield pg_server.dsn(name)
    await drop_test_database(pg_server.dsn("postgres"), name)


async def drop_test_database(admin_dsn: str, name: str) -> bool:
    """Drop a test's database once the test is done with it, so that a worker's server does
    not grow all session (every database is written at its stop's checkpoint). Connections
    the test left open are ended. Never fails the test: a drop that fails is logged (a test
    may have stopped the server, say). True when the database is gone."""
    try:
        async with asyncio.timeout(DROP_SECONDS):
            conn = await asyncpg.connect(admin_dsn)
            try:
                if conn.get_server_version().major >= 13:  # DROP DATABASE ... WITH (FORCE)
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                else:
                    await conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = $1 AND pid <> pg_backend_pid()",
                        name,
                    )
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            finally:
                await conn.close()
    except Exception as error:  # whatever it is: the test itself is over
        log.warning("could not drop the test database %s: %r", name, error)
        return False
    return True


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedTansu]:
    tansu = EmbeddedTansu(free_port(), tmp_path / "tansu.log")
    tansu.start()
    yield tansu
    tansu.kill()


def free_listener_ports() -> dict[str, int]:
    """A free port for every service's listener, by setting: each service's HTTP port and
    lab-ingestion's MLLP port."""
    fields = [f"{name.replace('-', '_')}_http_port" for name in SERVICE_NAMES]
    return {field: free_port() for field in [*fields, "lab_ingestion_mllp_port"]}


@pytest.fixture
def settings(database: str, broker: EmbeddedTansu, tmp_path: Path) -> PlatformSettings:
    return PlatformSettings(
        database_url=database,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        data_dir=tmp_path / "data",
        # the embedded broker holds a new group's first join for half the session timeout,
        # rounded up to whole seconds and never under 1 s (measured: 0.5, 1 and 2 s -> 1 s;
        # 2.2 and 3 s -> 2 s; 6 s -> 3 s; 10 s -> 5 s; Tansu has no option for it). 2 s is the
        # longest timeout held only the 1 s floor: a shorter one saves nothing (that second
        # is most of a service's start in a test) and only tightens the heartbeats (every
        # 0.67 s, from the consumer's own thread)
        kafka_session_timeout_seconds=2,
        outbox_check_broker_seconds=0.5,
        shutdown_deadline_seconds=5,
        # external infrastructure: the key must be given (never one per data directory)
        subject_hmac_key=TEST_SUBJECT_HMAC_KEY,
    ).model_copy(update=free_listener_ports())


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port something else listens on (the platform `make run` started, say)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never answers (a hung PostgreSQL)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()


@pytest.fixture
def clean_platform_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No platform setting inherited from the environment; run in an empty directory."""
    for name in list(os.environ):
        if name.startswith("CACHEXIA_") or name in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def own_service_ports(
    clean_platform_environment: None, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Free ports for every service's listeners, in the environment: `cachexia up` checks
    them free before it starts anything, and a platform running on the defaults (`make run`)
    must not fail a test of it."""
    ports = {setting_variable(field): str(port) for field, port in free_listener_ports().items()}
    for variable, port in ports.items():
        monkeypatch.setenv(variable, port)
    return ports
