"""One platform per data directory: a second `cachexia up` (a second `make run`) stops at
once in one line and touches nothing of the running one; `cachexia up` never stops a
PostgreSQL it found running. Real embedded PostgreSQL; the running platform's broker is a
port something listens on."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.infra import free_port
from cachexia.cli import main
from cachexia.errors import EXIT_USAGE, InfrastructureError
from cachexia.up import Platform
from shared.embedded.postgres import EmbeddedPostgres
from shared.settings import PlatformSettings
from tests.conftest import server_folder_made


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with server_folder_made() as folder:  # the embedded PostgreSQL's user must pass through
        yield folder / "data"


@pytest.fixture(scope="module")
def running_postgres(data_dir: Path) -> Iterator[EmbeddedPostgres]:
    """The embedded PostgreSQL of the platform already running from ``data_dir``."""
    server = EmbeddedPostgres(data_dir / "postgres", free_port())
    server.start()
    yield server
    server.stop()


def lock_is_free(data_dir: Path) -> bool:
    descriptor = os.open(data_dir / "platform.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # releases it, if taken
    return True


@pytest.fixture
def first_platform_lock(data_dir: Path) -> Iterator[None]:
    """The lock the first `cachexia up` holds on its data directory."""
    descriptor = os.open(data_dir / "platform.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.ftruncate(descriptor, 0)
    os.write(descriptor, b"4242\n")
    yield
    os.close(descriptor)


def test_a_second_cachexia_up_refuses_in_one_line_and_touches_nothing(
    clean_platform_environment: None,
    running_postgres: EmbeddedPostgres,
    first_platform_lock: None,
    held_port: int,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CACHEXIA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", str(running_postgres.port))
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", str(held_port))  # the first one's
    postmaster = (running_postgres.data_dir / "postmaster.pid").read_text()
    assert main(["up"]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # nothing started, nothing stopped
    assert err == (
        f"cachexia: a platform is already running from {data_dir} (`cachexia up`, pid 4242); "
        "stop it first (Ctrl-C in its terminal), or give another platform its own "
        "CACHEXIA_DATA_DIR and ports\n"
    )
    assert running_postgres.is_running()
    assert (running_postgres.data_dir / "postmaster.pid").read_text() == postmaster


def test_a_postgres_found_running_is_used_and_never_stopped(
    own_service_ports: dict[str, str],
    running_postgres: EmbeddedPostgres,
    held_port: int,
    data_dir: Path,
) -> None:
    """Not held by a platform (left by a `cachexia up` that was killed, say): used, and left
    running when this `cachexia up` stops (here: its broker port is taken)."""
    settings = PlatformSettings(
        data_dir=data_dir,
        embedded_postgres_port=running_postgres.port,
        embedded_kafka_port=held_port,
    )
    with pytest.raises(InfrastructureError) as failed:
        asyncio.run(Platform(settings).run())
    assert failed.value.exit_code == EXIT_USAGE
    assert "CACHEXIA_EMBEDDED_KAFKA_PORT" in str(failed.value)
    assert running_postgres.is_running(), "stopped a PostgreSQL it did not start"
    assert lock_is_free(data_dir)


async def test_the_lock_is_held_while_cachexia_up_runs_and_released_when_it_stops(
    own_service_ports: dict[str, str], silent_port: int, tmp_path: Path
) -> None:
    settings = PlatformSettings(
        database_url=f"postgresql://u:p@127.0.0.1:{silent_port}/db",
        kafka_bootstrap_servers="127.0.0.1:1",
        subject_hmac_key="test-only-subject-hmac-key-0123456789abcdef",
        data_dir=tmp_path / "data",
    )
    up = Platform(settings)
    running = asyncio.create_task(up.run())  # waits for PostgreSQL
    await asyncio.sleep(0.3)
    assert not lock_is_free(tmp_path / "data")
    up.stopping.set()  # Ctrl-C
    assert await asyncio.wait_for(running, 10) == 0
    assert lock_is_free(tmp_path / "data")
