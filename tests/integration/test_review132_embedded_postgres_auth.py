"""The embedded PostgreSQL asks every connection for its password (review 132): with
`initdb --auth=trust` any local user connected as the superuser `postgres` (over TCP on
127.0.0.1 or the Unix socket), read and forged API tokens and ran shell commands (COPY ...
TO PROGRAM). Its server ran with root's group; its start opened every parent folder of the
data to all users. A cluster an earlier version initialised with trust keeps working: it is
given the password at its next start, whether it was stopped or found running."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import pytest

from bench.infra import free_port
from shared.addresses import masked_url
from shared.embedded.postgres import SYSTEM_USER, EmbeddedPostgres, postgres_bin_dir
from shared.embedded.system_user import SystemUserCannotReach, as_system_user, ensure_system_user
from shared.settings import PlatformSettings

pytestmark = pytest.mark.integration

AS_ROOT = os.geteuid() == 0
only_as_root = pytest.mark.skipif(not AS_ROOT, reason="a system user is used as root only")


@pytest.fixture(autouse=True)
def no_password_from_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """asyncpg would take a password from the environment or ~/.pgpass."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))


def without_password(server: EmbeddedPostgres) -> list[str]:
    """What another local user would try: the superuser, no password, TCP and the socket."""
    socket = urlencode({"host": str(server.data_dir), "port": server.port})
    return [
        f"postgresql://postgres@{server.host}:{server.port}/postgres",
        f"postgresql://postgres@/postgres?{socket}",
    ]


async def refused_without_password(server: EmbeddedPostgres) -> None:
    for dsn in without_password(server):
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)) as refused:
            conn = await asyncpg.connect(dsn)
            await conn.close()  # pragma: no cover - the failure is the assertion
        assert "password" in str(refused.value), dsn


async def answers_with_password(server: EmbeddedPostgres) -> None:
    for dsn in (server.dsn("postgres"), server.tcp_dsn("postgres")):
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT current_user") == "postgres"
        finally:
            await conn.close()


async def test_a_connection_without_the_password_is_refused(pg_server: EmbeddedPostgres) -> None:
    await refused_without_password(pg_server)
    await answers_with_password(pg_server)


def test_the_password_is_its_owners_alone_and_never_shown(pg_server: EmbeddedPostgres) -> None:
    password = pg_server.password
    assert password and len(password) >= 32
    assert stat.S_IMODE(pg_server.password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(pg_server.password_file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(pg_server.data_dir.stat().st_mode) == 0o700  # the socket's folder
    assert password in pg_server.dsn() and password in pg_server.tcp_dsn()
    assert password not in masked_url(pg_server.dsn()) + masked_url(pg_server.tcp_dsn())


async def test_the_operator_commands_dsn_carries_the_password(server_folder: Path) -> None:
    """`cachexia token ...` and the like connect with ``PlatformSettings.postgres_dsn``:
    the cluster of `cachexia up` is ``<data dir>/postgres``, its password in the data
    directory's secrets."""
    server = EmbeddedPostgres(server_folder / "postgres", free_port())
    server.start()
    try:
        server.create_database()
        settings = PlatformSettings(data_dir=server_folder, embedded_postgres_port=server.port)
        conn = await asyncpg.connect(settings.postgres_dsn)
        await conn.close()
    finally:
        server.stop()


@only_as_root
def test_the_server_runs_in_its_own_group_only(pg_server: EmbeddedPostgres) -> None:
    postmaster = (pg_server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{postmaster}/status").read_text().splitlines()
    )
    own_group = pwd.getpwnam(SYSTEM_USER).pw_gid
    assert {int(g) for g in status["Gid"].split()} == {own_group}
    assert {int(g) for g in status["Groups"].split()} <= {own_group}


def initialise_as_before(data_dir: Path) -> None:
    """A cluster as EmbeddedPostgres initialised it before review 132: trust."""
    data_dir.mkdir(mode=0o700)
    as_user = {}
    if AS_ROOT:
        ensure_system_user()
        as_user = as_system_user()
        os.chown(data_dir, as_user["user"], as_user["group"])
    subprocess.run(
        [str(postgres_bin_dir() / "initdb"), "-D", str(data_dir), "-U", "postgres",
         "--auth=trust", "--encoding=UTF8", "--locale=C"],
        check=True, capture_output=True, cwd="/", **as_user,
    )  # fmt: skip


def pg_ctl(server: EmbeddedPostgres, *args: str) -> None:
    as_user = as_system_user() if AS_ROOT else {}
    subprocess.run(
        [str(postgres_bin_dir() / "pg_ctl"), "-D", str(server.data_dir), *args],
        check=True, capture_output=True, cwd="/", **as_user,
    )  # fmt: skip


async def test_a_trusting_cluster_of_an_earlier_version_is_given_the_password(
    server_folder: Path,
) -> None:
    server = EmbeddedPostgres(server_folder / "data", free_port())
    initialise_as_before(server.data_dir)
    assert not server.password_file.exists()
    server.start()
    try:
        assert server.password and "trust" not in _rules(server)
        await refused_without_password(server)
        await answers_with_password(server)
    finally:
        server.stop()
    again = EmbeddedPostgres(server.data_dir, server.port)  # the next `make run`
    again.start()
    try:
        await refused_without_password(again)
        await answers_with_password(again)
    finally:
        again.stop()


async def test_a_trusting_server_found_running_is_given_the_password_and_kept(
    server_folder: Path,
) -> None:
    """Left running by an earlier version's `cachexia up` (killed): not ours to stop, but it
    must not go on trusting every local user; what it holds is kept."""
    server = EmbeddedPostgres(server_folder / "data", free_port())
    initialise_as_before(server.data_dir)
    server._write_settings()  # its port, as the earlier version wrote them
    log = server_folder / "earlier.log"
    log.touch()
    if AS_ROOT:
        os.chown(log, *pwd.getpwnam(SYSTEM_USER)[2:4])
    pg_ctl(server, "-l", str(log), "-w", "start")
    try:
        conn = await asyncpg.connect(without_password(server)[0])  # trusted, as it was
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        await conn.close()
        server.start()
        assert server.found_running
        await refused_without_password(server)
        conn = await asyncpg.connect(server.dsn("postgres"))
        try:
            assert await conn.fetchval("SELECT n FROM kept") == 42
        finally:
            await conn.close()
    finally:
        pg_ctl(server, "-m", "fast", "-w", "stop")


def test_a_cluster_whose_password_file_is_lost_is_said_so(server_folder: Path) -> None:
    server = EmbeddedPostgres(server_folder / "data", free_port())
    server.start()
    server.stop()
    server.password_file.unlink()
    with pytest.raises(RuntimeError, match=r"asks for a password.*postgres-password.*missing"):
        server.start()
    assert not server.is_running()


@pytest.fixture
def private_folder() -> Iterator[Path]:
    """A folder only its owner may enter, as /root is (`make run` from /root/lena)."""
    with tempfile.TemporaryDirectory(prefix="cachexia-private-") as folder:
        yield Path(folder)


@only_as_root
def test_a_data_folder_the_server_cannot_reach_is_opened_for_passage_only(
    private_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stat.S_IMODE(private_folder.stat().st_mode) == 0o700
    server = EmbeddedPostgres(private_folder / "lena" / ".data" / "postgres", free_port())
    server.start()
    try:
        assert stat.S_IMODE(private_folder.stat().st_mode) == 0o701  # passage, not listing
        assert f"let other users pass through {private_folder}" in capsys.readouterr().err
        assert (server.data_dir / "PG_VERSION").exists()
    finally:
        server.stop()


@only_as_root
def test_a_folder_root_does_not_own_is_named_and_left_closed(private_folder: Path) -> None:
    owned = private_folder / "theirs"
    owned.mkdir(mode=0o700)
    os.chown(owned, 65534, 65534)  # nobody's: never root's to open
    server = EmbeddedPostgres(owned / "lena" / ".data" / "postgres", free_port())
    with pytest.raises(SystemUserCannotReach) as refused:
        server.start()
    message = str(refused.value)
    assert f"chmod o+x {owned}" in message and "CACHEXIA_DATA_DIR" in message, message
    assert stat.S_IMODE(owned.stat().st_mode) == 0o700


def _rules(server: EmbeddedPostgres) -> str:
    lines = (server.data_dir / "pg_hba.conf").read_text().splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.startswith("#"))
