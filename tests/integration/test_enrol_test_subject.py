"""tools/enrol_test_subject.py: a test subject enrolled on a platform `make run` started."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from shared.contracts.identity import hospital_id_hmac
from shared.embedded.tansu import EmbeddedTansu
from shared.messaging.kafka import ensure_topics
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings
from tools.enrol_test_subject import TOPIC, main

pytestmark = pytest.mark.integration


@pytest.fixture
def platform(
    broker: EmbeddedTansu,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_platform_environment: None,
) -> bytes:
    """The settings `make run` uses (embedded, on this test's broker); the platform's key."""
    port = broker.bootstrap_servers.rsplit(":", 1)[1]
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", port)
    monkeypatch.setenv("CACHEXIA_DATA_DIR", str(tmp_path / "data"))
    return subject_hmac_key(PlatformSettings(data_dir=tmp_path / "data"), create=True)


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
