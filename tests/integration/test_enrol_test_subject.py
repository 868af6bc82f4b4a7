"""tools/enrol_test_subject.py: a test subject enrolled on a platform `make run` started."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from shared.contracts.identity import hospital_id_hmac
from shared.db.migrations import (
    SUBJECT_KEY_MIGRATIONS,
    SUBJECT_KEY_SCHEMA,
    MigrationSet,
    apply_migrations,
)
from shared.embedded.password import PASSWORD_FILE
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu
from shared.key_fingerprint import check_key_fingerprint
from shared.messaging.kafka import ensure_topics
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings
from tests.conftest import drop_test_database
from tools.enrol_test_subject import TOPIC, main

pytestmark = pytest.mark.integration


OTHER_KEY = "another-subject-hmac-key-fedcba9876543210"
DIFFERS = "the patient-matching key differs from the one this platform's data was hashed with"


@pytest.fixture
async def platform_database(
    pg_server: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """The embedded PostgreSQL of `make run`, as the tool finds it: its database `cachexia`
    (on this worker's server, dropped after the test), its password in the data directory."""
    secrets = tmp_path / "data" / PASSWORD_FILE
    secrets.parent.mkdir(parents=True)
    secrets.write_text(pg_server.password or "")
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", str(pg_server.port))
    conn = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await conn.execute('CREATE DATABASE "cachexia"')
    finally:
        await conn.close()
    yield pg_server.dsn()
    await drop_test_database(pg_server.dsn("postgres"), "cachexia")


@pytest.fixture
async def unstarted_platform(
    broker: EmbeddedTansu,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_platform_environment: None,
    platform_database: str,
) -> bytes:
    """The settings `make run` uses (embedded, on this test's broker and this worker's
    PostgreSQL); the platform's key, created, its fingerprint not yet recorded."""
    port = broker.bootstrap_servers.rsplit(":", 1)[1]
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", port)
    monkeypatch.setenv("CACHEXIA_DATA_DIR", str(tmp_path / "data"))
    conn = await asyncpg.connect(platform_database)
    try:
        await apply_migrations(
            conn, SUBJECT_KEY_SCHEMA, [MigrationSet("subject_key", SUBJECT_KEY_MIGRATIONS)]
        )
    finally:
        await conn.close()
    return subject_hmac_key(PlatformSettings(data_dir=tmp_path / "data"), create=True)


@pytest.fixture
async def platform(unstarted_platform: bytes, platform_database: str) -> bytes:
    """As above, started once: its key's fingerprint recorded, as `cachexia up` records it."""
    conn = await asyncpg.connect(platform_database)
    try:
        assert await check_key_fingerprint(conn, unstarted_platform, "the platform's start")
    finally:
        await conn.close()
    return unstarted_platform


async def read_one(servers: str) -> tuple[bytes | None, dict[str, object]]:
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 20)
    finally:
        await consumer.stop()
    return record.key, json.loads(record.value or b"{}")


def test_the_subject_is_published_with_the_hash_of_its_hospital_number(
    platform: bytes, broker: EmbeddedTansu, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(ensure_topics(broker.bootstrap_servers, [TOPIC], 12))
    assert main(["S-001", "MRN123", "--site", "CH-02", "--day1", "2026-11-02"]) == 0
    key, envelope = asyncio.run(read_one(broker.bootstrap_servers))
    assert key == b"S-001"
    assert envelope["event_type"] == "SubjectEnrolled"
    assert envelope["subject_id"] == "S-001"
    payload = envelope["payload"]
    assert isinstance(payload, dict)
    assert payload["hospital_id_hmac"] == hospital_id_hmac(platform, "MRN123")
    assert (payload["site_id"], payload["day1"]) == ("CH-02", "2026-11-02")
    output = capsys.readouterr().out
    assert "enrolled S-001" in output and "MRN123" not in output  # the number is not echoed


def test_a_broker_without_the_platforms_topics_is_refused(
    platform: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sending would create the topic with the broker's partition count, not the platform's."""
    assert main(["S-001", "MRN123"]) == 2
    assert "start `make run`" in capsys.readouterr().out


def test_an_external_broker_is_refused(
    platform: bytes, broker: EmbeddedTansu, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A trial's platform would match that hospital number's results to the test subject."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    assert main(["S-001", "MRN123"]) == 2
    assert "only for a platform `make run` started" in capsys.readouterr().out


def test_another_key_than_the_platforms_is_refused_and_nothing_published(
    platform: bytes, broker: EmbeddedTansu, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Review 156: with another key it said the services would match the number, and they
    then discarded the patient's results as not enrolled. It checks the key as they do."""
    asyncio.run(ensure_topics(broker.bootstrap_servers, [TOPIC], 12))
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", OTHER_KEY)
    assert main(["S-001", "MRN123"]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"refused: {DIFFERS}: this process's key (from CACHEXIA_SUBJECT_HMAC")
    assert "enrolled" not in out and "MRN123" not in out
    monkeypatch.delenv("CACHEXIA_SUBJECT_HMAC_KEY")
    assert main(["S-002", "MRN123"]) == 0  # the platform's key (its data directory's)
    key, envelope = asyncio.run(read_one(broker.bootstrap_servers))
    assert key == b"S-002"  # the first event on the topic: the refused one was not sent
    payload = envelope["payload"]
    assert isinstance(payload, dict)
    assert payload["hospital_id_hmac"] == hospital_id_hmac(platform, "MRN123")


def test_a_platform_that_recorded_no_key_is_refused_and_none_recorded(
    unstarted_platform: bytes, platform_database: str, broker: EmbeddedTansu,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """As the operator commands: never recording its own key as the platform's."""
    asyncio.run(ensure_topics(broker.bootstrap_servers, [TOPIC], 12))
    assert main(["S-001", "MRN123"]) == 2
    assert "has not recorded its patient-matching key yet" in capsys.readouterr().out
    assert asyncio.run(recorded(platform_database)) == 0


async def recorded(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM subject_key.subject_key_fingerprint")
    finally:
        await conn.close()
    return count
