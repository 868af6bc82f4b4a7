"""The patient-matching key's fingerprint in the platform's database (review 69): recorded by
the first process that uses the key, checked by every process that hashes identifiers (the
platform's start, lab-ingestion, `cachexia message show` and `replay`), which stops on a
difference, naming it, before anything is hashed with the other key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from cachexia.cli import main
from cachexia.platform import check_subject_key
from cachexia.services import service_definition
from shared.db.migrations import SUBJECT_KEY_MIGRATIONS, SUBJECT_KEY_SCHEMA, MigrationSet
from shared.db.migrations import apply_migrations as migrate
from shared.key_fingerprint import SubjectKeyMismatch, check_key_fingerprint, key_fingerprint
from shared.runtime import ServiceRuntime
from shared.settings import PlatformSettings
from tests.conftest import TEST_SUBJECT_HMAC_KEY
from tests.integration.lab_fixtures import migrate_lab

pytestmark = pytest.mark.integration

PLATFORM_KEY = TEST_SUBJECT_HMAC_KEY.encode()
OTHER_KEY = "another-subject-hmac-key-fedcba9876543210"
DIFFERS = "the patient-matching key differs from the one this platform's data was hashed with"


async def _record(dsn: str, key: bytes) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(
            conn, SUBJECT_KEY_SCHEMA, [MigrationSet("subject_key", SUBJECT_KEY_MIGRATIONS)]
        )
        return await check_key_fingerprint(conn, key, "the test")
    finally:
        await conn.close()


async def test_the_first_key_is_recorded_the_same_key_passes_another_is_refused(
    database: str,
) -> None:
    assert await _record(database, PLATFORM_KEY) is True
    assert await _record(database, PLATFORM_KEY) is False
    with pytest.raises(SubjectKeyMismatch) as refused:
        await _record(database, OTHER_KEY.encode())
    message = str(refused.value)
    assert message.startswith(DIFFERS)
    assert "(from the test)" in message
    assert key_fingerprint(OTHER_KEY.encode())[:16] in message
    assert key_fingerprint(PLATFORM_KEY)[:16] in message
    assert OTHER_KEY not in message and TEST_SUBJECT_HMAC_KEY not in message
    conn = await asyncpg.connect(database)
    try:
        recorded = await conn.fetch("SELECT fingerprint FROM subject_key.subject_key_fingerprint")
    finally:
        await conn.close()
    assert [r["fingerprint"] for r in recorded] == [key_fingerprint(PLATFORM_KEY)]
    assert TEST_SUBJECT_HMAC_KEY not in recorded[0]["fingerprint"]


async def test_services_starting_at_once_agree_on_one_key(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await migrate(
            conn, SUBJECT_KEY_SCHEMA, [MigrationSet("subject_key", SUBJECT_KEY_MIGRATIONS)]
        )
    finally:
        await conn.close()
    keys = [PLATFORM_KEY, OTHER_KEY.encode()] * 6
    outcomes = await asyncio.gather(
        *(_record(database, key) for key in keys), return_exceptions=True
    )
    assert sum(outcome is True for outcome in outcomes) == 1  # one recorded it
    winner = keys[outcomes.index(True)]
    for key, outcome in zip(keys, outcomes, strict=True):
        if key == winner:
            assert outcome in (True, False)
        else:
            assert isinstance(outcome, SubjectKeyMismatch)


async def test_lab_ingestion_does_not_start_with_another_key(
    settings: PlatformSettings, database: str
) -> None:
    assert await _record(database, OTHER_KEY.encode())  # the platform's data: another key
    runtime = ServiceRuntime(service_definition("lab-ingestion"), settings)
    with pytest.raises(SubjectKeyMismatch, match="from CACHEXIA_SUBJECT_HMAC_KEY"):
        await asyncio.wait_for(runtime.run(install_signal_handlers=False), 60)
    assert not runtime.started.is_set()


async def test_lab_ingestion_records_the_key_at_its_first_start(
    settings: PlatformSettings, database: str
) -> None:
    runtime = ServiceRuntime(service_definition("lab-ingestion"), settings)
    running = asyncio.create_task(runtime.run(install_signal_handlers=False))
    await asyncio.wait_for(runtime.started.wait(), 60)
    runtime.stopping.set()
    await asyncio.wait_for(running, 30)
    with pytest.raises(SubjectKeyMismatch):  # recorded: another key is refused from now on
        await _record(database, OTHER_KEY.encode())


async def test_the_platform_start_records_then_checks_the_key(
    tmp_path: Path, database: str
) -> None:
    settings = PlatformSettings(
        database_url=database, data_dir=tmp_path, subject_hmac_key=OTHER_KEY
    )
    await _record(database, PLATFORM_KEY)
    with pytest.raises(SubjectKeyMismatch):
        await check_subject_key(settings, OTHER_KEY.encode())
    assert await check_subject_key(settings, PLATFORM_KEY) is False


@pytest.mark.parametrize(
    "command",
    [
        ["message", "show", "MSG-1", "--source", "LIS^HOSP"],
        ["replay", "6f1c1b8e-2f0a-4d39-9d57-0c1f3e1a2b3c"],
    ],
)
def test_an_operator_command_with_another_key_stops_naming_the_difference(
    command: list[str],
    database: str,
    clean_platform_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(migrate_lab(database))  # the commands never migrate (review 156)
    asyncio.run(_record(database, PLATFORM_KEY))
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", OTHER_KEY)
    assert main(command) == 2
    assert f"cachexia: {DIFFERS}" in capsys.readouterr().err
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", TEST_SUBJECT_HMAC_KEY)
    assert main(command) != 0  # the platform's key: looked up (and not found)
    assert DIFFERS not in capsys.readouterr().err


def test_an_operator_command_never_records_its_key(
    database: str,
    clean_platform_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a platform that has recorded no key yet (upgraded, not started since), a command
    run with a wrong key must not make it the platform's: the platform's next start would
    then refuse its own key. It stops, saying to start the platform first."""
    asyncio.run(migrate_lab(database))  # the commands never migrate (review 156)
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", OTHER_KEY)
    assert main(["message", "show", "MSG-1", "--source", "LIS^HOSP"]) == 2
    assert "has not recorded its patient-matching key yet" in capsys.readouterr().err
    assert asyncio.run(_record(database, PLATFORM_KEY)) is True  # the platform's start
