"""tools/enrol_test_subject.py reads the platform's settings as `make run` does: a bad one
stops it with the variable named, not a validation traceback quoting the value."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tools.enrol_test_subject import main


@pytest.mark.usefixtures("clean_platform_environment")
def test_a_bad_setting_stops_it_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", "ninety-ninety-two")
    with pytest.raises(SystemExit) as stopped:
        main(["S-001", "MRN123"])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    said, variable, *_ = err.splitlines()
    assert said == "cachexia: invalid settings"
    assert variable.startswith("  CACHEXIA_EMBEDDED_KAFKA_PORT: ")
    assert "ninety-ninety-two" not in err
    assert "Traceback" not in err
    assert "MRN123" not in out + err


class RecordedProducer(AIOKafkaProducer):  # type: ignore[misc]  # aiokafka is untyped
    """The real producer, remembering whether it was stopped."""

    made: list[RecordedProducer] = []

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.stopped = False
        RecordedProducer.made.append(self)

    async def stop(self) -> None:
        self.stopped = True
        await super().stop()


@pytest.mark.usefixtures("clean_platform_environment")
def test_a_broker_not_there_is_one_line_and_the_producer_is_closed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Review 123: the line was followed by aiokafka's "Unclosed AIOKafkaProducer" (its
    start failed, and it was never stopped)."""
    with socket.socket() as unused:  # a port nothing listens on: refused at once
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", str(port))
    monkeypatch.setenv("CACHEXIA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("tools.enrol_test_subject.subject_hmac_key", lambda _: b"k" * 64)
    monkeypatch.setattr("tools.enrol_test_subject.check_key", _key_checked)
    monkeypatch.setattr("tools.enrol_test_subject.AIOKafkaProducer", RecordedProducer)
    RecordedProducer.made.clear()
    assert main(["S-001", "MRN123"]) == 1
    out, _ = capsys.readouterr()
    assert out == f"the broker at 127.0.0.1:{port} did not take it: KafkaConnectionError\n"
    (producer,) = RecordedProducer.made
    assert producer.stopped


async def _key_checked(*_: object) -> None:
    """The key's fingerprint check (tests/integration/test_enrol_test_subject.py): passed."""


def _unused_port() -> int:
    with socket.socket() as unused:  # a port nothing listens on: refused at once
        unused.bind(("127.0.0.1", 0))
        return int(unused.getsockname()[1])


@pytest.mark.usefixtures("clean_platform_environment")
def test_postgres_not_there_is_one_line_and_nothing_is_sent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The key is checked against the platform's database first (review 156)."""
    port = _unused_port()
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", str(port))
    monkeypatch.setenv("CACHEXIA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("tools.enrol_test_subject.subject_hmac_key", lambda _: b"k" * 64)
    monkeypatch.setattr("tools.enrol_test_subject.AIOKafkaProducer", RecordedProducer)
    RecordedProducer.made.clear()
    assert main(["S-001", "MRN123"]) == 1
    out, _ = capsys.readouterr()
    assert out.startswith(f"PostgreSQL at postgresql://postgres@127.0.0.1:{port}/cachexia could")
    assert out.count("\n") == 1
    assert RecordedProducer.made == []
