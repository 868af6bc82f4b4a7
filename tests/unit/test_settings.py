"""PlatformSettings: SPEC defaults, the fixed environment names, and start-up errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import DEFAULT_HTTP_PORTS, SERVICE_NAMES, PlatformSettings, load_settings

SPEC_HTTP_PORTS = {
    "lab-ingestion": 8081,
    "crp-monitor": 8082,
    "dose-decision": 8083,
    "safety-alerting": 8084,
    "outcome-scoring": 8085,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings must come from the test, not from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("CACHEXIA_") or name in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file can be picked up


def test_spec_ports_are_the_defaults() -> None:
    settings = PlatformSettings()
    assert settings.lab_ingestion_http_port == 8081
    assert settings.crp_monitor_http_port == 8082
    assert settings.dose_decision_http_port == 8083
    assert settings.safety_alerting_http_port == 8084
    assert settings.outcome_scoring_http_port == 8085
    assert settings.lab_ingestion_mllp_port == 2575
    assert {name: settings.http_port(name) for name in SERVICE_NAMES} == SPEC_HTTP_PORTS
    assert DEFAULT_HTTP_PORTS == SPEC_HTTP_PORTS


def test_embedded_infrastructure_by_default() -> None:
    settings = PlatformSettings()
    assert settings.kafka_bootstrap_servers == ""
    assert settings.database_url == ""
    assert settings.uses_embedded_kafka
    assert settings.uses_embedded_postgres
    assert settings.postgres_dsn.startswith("postgresql://")
    assert f"@127.0.0.1:{settings.embedded_postgres_port}/" in settings.postgres_dsn
    assert settings.kafka_servers == f"127.0.0.1:{settings.embedded_kafka_port}"
    assert settings.topic_partitions == 12
    assert settings.bind_host == "127.0.0.1"


def test_kafka_bootstrap_servers_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.kafka_servers == "kafka-1:9092,kafka-2:9092"
    assert not settings.uses_embedded_kafka
    assert settings.uses_embedded_postgres


def test_database_url_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = "postgresql://cachexia:secret@db.internal:5432/cachexia"
    monkeypatch.setenv("DATABASE_URL", dsn)
    settings = load_settings()
    assert settings.database_url == dsn
    assert settings.postgres_dsn == dsn
    assert not settings.uses_embedded_postgres
    assert settings.uses_embedded_kafka


def test_postgres_scheme_alias_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert load_settings().postgres_dsn == "postgres://u@h/db"


def test_prefixed_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHEXIA_CRP_MONITOR_HTTP_PORT", "9182")
    monkeypatch.setenv("CACHEXIA_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("CACHEXIA_TOPIC_PARTITIONS", "3")
    settings = load_settings()
    assert settings.http_port("crp-monitor") == 9182
    assert settings.log_level == "DEBUG"
    assert settings.topic_partitions == 3


def test_settings_are_frozen() -> None:
    settings = PlatformSettings()
    with pytest.raises(ValidationError):
        settings.database_url = "postgresql://x"  # type: ignore[misc]


@pytest.mark.parametrize("url", ["mysql://root@db/x", "db.internal:5432", "sqlite:///x.db"])
def test_invalid_database_url_exits_with_code_2(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as info:
        load_settings()
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "DATABASE_URL" in captured.err
    assert "postgresql://" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("value", ["0", "65536", "http", "-1"])
def test_invalid_port_exits_with_code_2(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CACHEXIA_CRP_MONITOR_HTTP_PORT", value)
    with pytest.raises(SystemExit) as info:
        load_settings()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid settings" in err
    assert "crp_monitor_http_port" in err.lower()


def test_invalid_port_names_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CACHEXIA_CRP_MONITOR_HTTP_PORT", "70000")
    with pytest.raises(SystemExit):
        load_settings()
    assert "CACHEXIA_CRP_MONITOR_HTTP_PORT" in capsys.readouterr().err


def test_invalid_log_level_exits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CACHEXIA_LOG_LEVEL", "CHATTY")
    with pytest.raises(SystemExit) as info:
        load_settings()
    assert info.value.code == 2
    assert "log_level" in capsys.readouterr().err.lower()
