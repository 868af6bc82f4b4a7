"""Typed settings shared by every service and the `cachexia` command.

Every field can be set from the environment. The infrastructure addresses use the
names the SPEC fixes (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``); the rest take the
``CACHEXIA_`` prefix. Invalid values stop the process at start-up with a message that
names the variable.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES: tuple[str, ...] = (
    "lab-ingestion",
    "crp-monitor",
    "dose-decision",
    "safety-alerting",
    "outcome-scoring",
)

DEFAULT_HTTP_PORTS: dict[str, int] = {
    "lab-ingestion": 8081,
    "crp-monitor": 8082,
    "dose-decision": 8083,
    "safety-alerting": 8084,
    "outcome-scoring": 8085,
}

Port = Annotated[int, Field(ge=1, le=65535)]


class PlatformSettings(BaseSettings):
    """Settings every process of the platform reads."""

    model_config = SettingsConfigDict(
        env_prefix="CACHEXIA_", extra="ignore", frozen=True, populate_by_name=True
    )

    data_dir: Path = Path(".data")
    kafka_bootstrap_servers: str = Field(
        default="",
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "CACHEXIA_KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="host:port[,host:port]; empty means the embedded broker",
    )
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "CACHEXIA_DATABASE_URL"),
        description="postgresql://...; empty means the embedded PostgreSQL",
    )
    bind_host: str = "127.0.0.1"
    embedded_postgres_port: Port = 55432
    embedded_kafka_port: Port = 9092
    topic_partitions: int = Field(default=12, ge=1, le=1000)
    topic_replication_factor: int = Field(default=1, ge=1, le=5)
    lab_ingestion_http_port: Port = DEFAULT_HTTP_PORTS["lab-ingestion"]
    lab_ingestion_mllp_port: Port = 2575
    # HL7 MSH-11 (processing id) of the messages this deployment takes: P in the trial, T
    # in a training or test deployment; a message of another is answered AR, never stored
    lab_ingestion_processing_id: Literal["P", "T", "D"] = "P"
    crp_monitor_http_port: Port = DEFAULT_HTTP_PORTS["crp-monitor"]
    dose_decision_http_port: Port = DEFAULT_HTTP_PORTS["dose-decision"]
    safety_alerting_http_port: Port = DEFAULT_HTTP_PORTS["safety-alerting"]
    outcome_scoring_http_port: Port = DEFAULT_HTTP_PORTS["outcome-scoring"]
    subject_hmac_key: SecretStr = Field(
        default=SecretStr(""),
        description="key of the HMAC of hospital identifiers; empty: a key kept in the data dir",
    )
    mllp_max_message_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1024 * 1024)
    ingest_batch_size: int = Field(default=256, ge=1, le=10_000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_deadline_seconds: float = Field(default=8.0, gt=0, le=60)
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_batch_window_seconds: float = Field(default=0.02, gt=0, le=5)
    kafka_session_timeout_seconds: float = Field(default=10.0, ge=1, le=300)
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_poll_seconds: float = Field(default=0.05, gt=0, le=10)
    # after a publish, let this much time pass so that a busy service is relayed in batches
    outbox_coalesce_seconds: float = Field(default=0.02, ge=0, le=1)
    outbox_retention_hours: float = Field(default=24 * 14, gt=0)
    outbox_check_broker_seconds: float = Field(default=2.0, gt=0, le=300)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (or be empty for the embedded server)")
        return value

    @property
    def uses_embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap_servers

    @property
    def uses_embedded_postgres(self) -> bool:
        return not self.database_url

    @property
    def kafka_servers(self) -> str:
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        return f"127.0.0.1:{self.embedded_kafka_port}"

    @property
    def postgres_dsn(self) -> str:
        if self.database_url:
            return self.database_url
        return f"postgresql://postgres@127.0.0.1:{self.embedded_postgres_port}/cachexia"

    def http_port(self, service: str) -> int:
        port: int = getattr(self, f"{service.replace('-', '_')}_http_port")
        return port


def load_settings() -> PlatformSettings:
    """Read settings from the environment; on error print which variable is wrong and exit."""
    try:
        return PlatformSettings()
    except ValidationError as exc:
        lines = [f"  {_variable(err['loc'])}: {err['msg']}" for err in exc.errors()]
        sys.stderr.write("cachexia: invalid settings\n" + "\n".join(lines) + "\n")
        raise SystemExit(2) from exc


def _variable(location: tuple[int | str, ...]) -> str:
    """The environment variable behind an error location."""
    name = str(location[0]) if location else "?"
    if name.isupper():  # an alias such as DATABASE_URL
        return name
    return f"CACHEXIA_{name.upper()}"
