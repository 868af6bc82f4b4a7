"""PlatformSettings: SPEC defaults, the fixed environment names, and start-up errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from cachexia.errors import InfrastructureError
from cachexia.service_check import check_ports_free
from cachexia.supervision import SUPERVISOR_PID_VARIABLE
from shared.addresses import masked_url
from shared.settings import (
    DEFAULT_HTTP_PORTS,
    SERVICE_NAMES,
    PlatformSettings,
    load_settings,
    setting_variable,
)
from shared.unknown_settings import unknown_variables

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
    assert settings.database_url.get_secret_value() == ""
    assert not settings.uses_external_infrastructure
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
    assert settings.uses_external_infrastructure


def test_database_url_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = "postgresql://cachexia:secret@db.internal:5432/cachexia"
    monkeypatch.setenv("DATABASE_URL", dsn)
    settings = load_settings()
    assert settings.database_url.get_secret_value() == dsn
    assert settings.postgres_dsn == dsn
    assert not settings.uses_embedded_postgres
    assert settings.uses_embedded_kafka
    assert settings.uses_external_infrastructure


def test_the_database_password_never_shows_in_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://cachexia:s3cr3t-pw@db:5432/cachexia")
    settings = load_settings()
    assert "s3cr3t-pw" not in repr(settings)
    assert "s3cr3t-pw" not in str(settings)
    assert "s3cr3t-pw" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://cachexia:secret@db:5432/cachexia", "postgresql://cachexia:***@db:5432/cachexia"),
        ("postgresql://u:p@ss/w@h/db", "postgresql://u:***@h/db"),  # an unencoded "@" and "/"
        ("postgresql://u@h/db?password=x&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u:@h/db", "postgresql://u:***@h/db"),
        ("postgresql://postgres@/cachexia?host=/tmp/pg&port=55432", "postgresql://postgres@/cachexia?host=/tmp/pg&port=55432"),
        ("postgresql://h:5432/db", "postgresql://h:5432/db"),
    ],
)  # fmt: skip
def test_masked_url_hides_only_the_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


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
        settings.database_url = SecretStr("postgresql://x")  # type: ignore[misc]  # frozen: tried


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "not a host list", "host:port"),
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka:notaport", "host:port"),
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,", "host:port"),
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka:70000", "host:port"),
        ("KAFKA_BOOTSTRAP_SERVERS", "PLAINTEXT://kafka:9092", "host:port"),
        ("DATABASE_URL", "postgresql://u:pw-x@db:notaport/db", "port 'notaport'"),
        ("DATABASE_URL", "postgresql://u:pw-x@db:5432,db2:x/db", "port 'x'"),
        ("DATABASE_URL", "postgresql://u:pw-x@/db?host=/tmp&port=abc", "port 'abc'"),
        ("DATABASE_URL", "postgresql://u:pw-x@[::1/db", "malformed"),
        ("CACHEXIA_OUTBOX_RETENTION_HOURS", "inf", "finite"),
        ("CACHEXIA_OUTBOX_RETENTION_HOURS", "nan", "finite"),
        ("CACHEXIA_OUTBOX_RETENTION_HOURS", "1e300", "less than or equal"),
        ("CACHEXIA_LAB_INGESTION_PROCESSING_ID", "D", "'P' or 'T'"),
        ("CACHEXIA_HTTP_HEADER_SECONDS", "0", "greater than 0"),
        ("CACHEXIA_HTTP_HEADER_SECONDS", "inf", "finite"),
        ("CACHEXIA_SUBJECT_HMAC_KEY", "   ", "at least 32"),
        ("CACHEXIA_SUBJECT_HMAC_KEY", "a", "at least 32"),
        ("CACHEXIA_SUBJECT_HMAC_KEY", "a" * 64, "at least 32"),  # one character repeated
        # review 69: empty would be the current directory (a second cluster, key and lock)
        ("CACHEXIA_DATA_DIR", "", "is empty"),
        ("CACHEXIA_DATA_DIR", "  ", "is empty"),
    ],
)
def test_a_value_that_would_fail_later_stops_start_up_naming_the_variable(
    variable: str,
    value: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as info:
        load_settings()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{variable}: " in err
    assert message in err
    assert "pw-x" not in err  # a database password is never repeated


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092, kafka-2.example.org:19092"),
        ("KAFKA_BOOTSTRAP_SERVERS", "[::1]:9092,10.0.0.5:9092"),
        ("DATABASE_URL", "postgresql://u:p@db-1:5432,db-2:5433/cachexia?sslmode=require"),
        ("DATABASE_URL", "postgresql://u@[::1]:5432/db"),
        ("DATABASE_URL", "postgresql://postgres@/cachexia?host=/tmp/pg&port=55432"),
        ("CACHEXIA_OUTBOX_RETENTION_HOURS", "720"),
        ("CACHEXIA_LAB_INGESTION_PROCESSING_ID", "T"),
        ("CACHEXIA_HTTP_HEADER_SECONDS", "15"),
        ("CACHEXIA_SUBJECT_HMAC_KEY", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ],
)
def test_valid_values_are_accepted(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    load_settings()


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


def test_a_misspelt_variable_is_named_with_the_setting_meant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 123: ``CACHEXIA_EMBEDED_POSTGRES_PORT`` was ignored without a word (the
    default port used)."""
    monkeypatch.setenv("CACHEXIA_EMBEDED_POSTGRES_PORT", "25432")
    monkeypatch.setenv("CACHEXIA_NOTHING_LIKE_IT", "s3cr3t-value")
    settings = load_settings()
    err = capsys.readouterr().err
    assert settings.embedded_postgres_port == 55432  # still ignored: a warning, not a stop
    assert (
        "cachexia: warning: CACHEXIA_EMBEDED_POSTGRES_PORT is no setting and is ignored "
        "(did you mean CACHEXIA_EMBEDDED_POSTGRES_PORT?)"
    ) in err
    assert "CACHEXIA_NOTHING_LIKE_IT is no setting and is ignored\n" in err
    assert "s3cr3t-value" not in err and "25432" not in err  # values never shown


def test_a_process_cachexia_up_started_leaves_the_warning_to_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cachexia up` says an unknown variable once in its terminal; the services it starts
    do not write it into their JSON-line logs (review 128)."""
    monkeypatch.setenv("CACHEXIA_EMBEDED_POSTGRES_PORT", "25432")
    monkeypatch.setenv(SUPERVISOR_PID_VARIABLE, "1")
    load_settings()
    assert capsys.readouterr().err == ""


def test_every_setting_and_alias_and_the_supervisor_variable_are_known(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CACHEXIA_LOG_LEVEL", "cachexia_topic_partitions", "CACHEXIA_DATABASE_URL",
                 "CACHEXIA_KAFKA_BOOTSTRAP_SERVERS",
                 "CACHEXIA_CRP_MONITOR_HTTP_PORT"):  # fmt: skip
        monkeypatch.setenv(name, {"CACHEXIA_LOG_LEVEL": "INFO"}.get(name, "3"))
    monkeypatch.setenv("CACHEXIA_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("CACHEXIA_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    load_settings()
    assert "warning" not in capsys.readouterr().err
    # the supervisor's own variable is no unknown one (it also silences the warning)
    environ = {SUPERVISOR_PID_VARIABLE: "1", "CACHEXIA_LOG_LEVEL": "INFO"}
    assert unknown_variables(environ, PlatformSettings) == []


LISTENER_VARIABLES = [
    "CACHEXIA_EMBEDDED_POSTGRES_PORT",
    "CACHEXIA_EMBEDDED_KAFKA_PORT",
    "CACHEXIA_LAB_INGESTION_MLLP_PORT",
    *(f"CACHEXIA_{name.upper().replace('-', '_')}_HTTP_PORT" for name in SERVICE_NAMES),
]


@settings(max_examples=40, deadline=None)
@given(
    pair=st.lists(st.sampled_from(LISTENER_VARIABLES), min_size=2, max_size=2, unique=True),
    # not another listener's default: that pair would be named instead (fixer 135's draw)
    port=st.integers(min_value=1024, max_value=65535).filter(
        lambda port: port not in PlatformSettings().listener_ports().values()
    ),
)
def test_two_listeners_on_one_port_stop_cachexia_up_naming_both(pair: list[str], port: int) -> None:
    """Review 123: two services given one HTTP port were both shown "[up]" at one URL (one
    of them exiting "address already in use", again and again). ``cachexia up`` runs every
    listener on one host: it refuses them before it starts anything (exit 2); the settings
    alone are not refused (a service run in a container of its own may use a port another
    service's setting names)."""
    environment = dict.fromkeys(pair, str(port))
    with pytest.MonkeyPatch.context() as monkeypatch:
        for variable, value in environment.items():
            monkeypatch.setenv(variable, value)
        settings = load_settings()
    with pytest.raises(InfrastructureError) as info:
        check_ports_free(settings, [])
    assert info.value.exit_code == 2
    assert all(variable in str(info.value) for variable in pair), info.value
    assert f"are both {port}: each listener needs a port of its own" in str(info.value)


def test_every_listener_port_is_checked() -> None:
    assert sorted(
        setting_variable(field) for field in PlatformSettings().listener_ports()
    ) == sorted(LISTENER_VARIABLES)


def test_an_embedded_servers_port_is_free_to_share_when_it_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/cachexia")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", "8081")  # nothing listens on it
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", "2575")
    load_settings()
