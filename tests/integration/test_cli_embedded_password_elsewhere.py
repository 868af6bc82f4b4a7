"""Review 156: run from a directory other than the checkout (no .data there), `cachexia token
list` and `source list` said PostgreSQL "could not be reached ...; start the platform with
`make run`" while the platform ran: they read the embedded server's password from the
data directory, and found none. An authentication failure on embedded infrastructure now
names the password file read and how to select the platform's data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cachexia.cli import main
from shared.embedded.password import PASSWORD_FILE
from shared.embedded.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


@pytest.fixture
def elsewhere(
    pg_server: EmbeddedPostgres,
    clean_platform_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Path:
    """A platform running (embedded, on its port), the commands run from another directory:
    the data directory they read is ``<tmp_path>/.data``, without the server's password."""
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", str(pg_server.port))
    monkeypatch.delenv("PGPASSWORD", raising=False)  # asyncpg would take a password from it
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    return tmp_path / ".data"


@pytest.mark.parametrize("command", [["token", "list"], ["source", "list"], ["migrate"]])
async def test_no_password_file_names_it_and_the_data_directory_setting(
    command: list[str], elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, command) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("cachexia: the embedded PostgreSQL at postgresql://postgres@127.0.0.1:")
    assert f"no password: {elsewhere / PASSWORD_FILE} does not exist" in err
    assert f"this command's data directory is {elsewhere}" in err
    assert "set CACHEXIA_DATA_DIR to the platform's data directory" in err
    assert "could not be reached" not in err and "start the platform" not in err


async def test_another_password_names_the_file_it_was_read_from(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data directory of another platform (a password of its own)."""
    (elsewhere / "secrets").mkdir(parents=True)
    (elsewhere / PASSWORD_FILE).write_text("another-platforms-password-0123456789\n")
    assert await asyncio.to_thread(main, ["token", "list"]) == 1
    err = capsys.readouterr().err
    assert "another-platforms-password" not in err
    assert "postgresql://postgres:***@127.0.0.1:" in err
    assert f"the password in {elsewhere / PASSWORD_FILE} is refused" in err
    assert "set CACHEXIA_DATA_DIR to the platform's data directory" in err
