"""Typed settings shared by every service and the `cachexia` command.

Every field can be set from the environment. The infrastructure addresses use the
names the SPEC fixes (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``); the rest take the
``CACHEXIA_`` prefix. Invalid values stop the process at start-up with a message that
names the variable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.addresses import check_host_port, check_postgres_url, is_bind_host
from shared.embedded.password import PASSWORD_FILE, read_password, user_part
from shared.protocol import DEFAULT_PROTOCOL_FILE, Protocol, ProtocolFileError, load_protocol
from shared.unknown_settings import unknown_variable_lines

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

# A key of the hospital identifiers' HMAC: at least this many characters (of which at least
# SUBJECT_HMAC_KEY_MIN_DISTINCT differ), so 128 bits even as hex; `openssl rand -hex 32`
# gives 64 characters (256 bits), as the generated key does.
SUBJECT_HMAC_KEY_MIN_LENGTH = 32
SUBJECT_HMAC_KEY_MIN_DISTINCT = 8


class PlatformSettings(BaseSettings):
    """Settings every process of the platform reads."""

    model_config = SettingsConfigDict(
        env_prefix="CACHEXIA_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        hide_input_in_errors=True,  # a DATABASE_URL's password or the key never in an error
    )

    data_dir: Path = Path(".data")
    # the trial protocol's parameters (shared.protocol): read and checked whole at start, so
    # a missing or faulty file stops every process before it takes or decides anything
    protocol_file: Path = DEFAULT_PROTOCOL_FILE
    kafka_bootstrap_servers: str = Field(
        default="",
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "CACHEXIA_KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="host:port[,host:port]; empty means the embedded broker",
    )
    # secret: its password never shows in a repr, a log line or an error (masked_url)
    database_url: SecretStr = Field(
        default=SecretStr(""),
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
    lab_ingestion_processing_id: Literal["P", "T"] = "P"
    crp_monitor_http_port: Port = DEFAULT_HTTP_PORTS["crp-monitor"]
    dose_decision_http_port: Port = DEFAULT_HTTP_PORTS["dose-decision"]
    safety_alerting_http_port: Port = DEFAULT_HTTP_PORTS["safety-alerting"]
    outcome_scoring_http_port: Port = DEFAULT_HTTP_PORTS["outcome-scoring"]
    subject_hmac_key: SecretStr = Field(
        default=SecretStr(""),
        description="key of the HMAC of hospital identifiers; empty: a key kept in the data dir "
        "(embedded infrastructure only)",
    )
    mllp_max_message_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1024 * 1024)
    # lab-ingestion's listeners, against senders that hold their slot without finishing: an
    # MLLP frame begun and not continued for the stall period, or not ended within the
    # deadline of its first byte, ends its connection; an HTTP push's body not received in
    # full within its deadline is answered 408, and at most so many HTTP pushes are read and
    # processed at once (beyond, 503 with Retry-After at once, the body not read)
    mllp_frame_stall_seconds: float = Field(default=60.0, gt=0, le=3600, allow_inf_nan=False)
    mllp_frame_deadline_seconds: float = Field(
        default=300.0, gt=0, le=24 * 3600, allow_inf_nan=False
    )
    # an MLLP ACK not taken by its peer within this long (one that never reads) ends its
    # connection: its slot is freed for the laboratories (the message is stored already)
    mllp_send_seconds: float = Field(default=20.0, gt=0, le=3600, allow_inf_nan=False)
    # what an MLLP input from a sender not on the allow-list, or naming none, may leave: its
    # copy up to so many characters (beyond, its length and SHA-256), and so many kept
    # rejections a minute per peer address (beyond, only counted: still answered)
    mllp_unlisted_copy_chars: int = Field(default=4096, ge=0, le=64 * 1024)
    mllp_unlisted_copies_per_minute: int = Field(default=60, ge=0, le=100_000)
    lab_ingestion_http_body_seconds: float = Field(default=60.0, gt=0, le=3600, allow_inf_nan=False)
    lab_ingestion_http_max_requests: int = Field(default=32, ge=1, le=10_000)
    # every service's HTTP listener: a connection's request line and headers must come within
    # this long of its opening or of its last answer (aiohttp's keep-alive timer), and an idle
    # kept-alive connection is closed after it
    http_header_seconds: float = Field(default=60.0, gt=0, le=3600, allow_inf_nan=False)
    ingest_batch_size: int = Field(default=256, ge=1, le=10_000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_deadline_seconds: float = Field(default=8.0, gt=0, le=60)
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_batch_window_seconds: float = Field(default=0.02, gt=0, le=5)
    kafka_session_timeout_seconds: float = Field(default=10.0, ge=1, le=300)
    # how long the broker may hold a consumer's fetch while it has nothing (shared.streaming.
    # fetch_wait: on the embedded broker an idle topic's next event waits for it)
    kafka_fetch_max_wait_seconds: float = Field(default=0.1, ge=0.01, le=10, allow_inf_nan=False)
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_poll_seconds: float = Field(default=0.05, gt=0, le=10)
    # after a publish, let this much time pass so that a busy service is relayed in batches
    outbox_coalesce_seconds: float = Field(default=0.02, ge=0, le=1)
    outbox_retention_hours: float = Field(
        default=24 * 14, gt=0, le=24 * 366 * 10, allow_inf_nan=False
    )
    outbox_check_broker_seconds: float = Field(default=2.0, gt=0, le=300)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url:  # the message never repeats the URL: it may hold a password
            check_postgres_url(url)
        return value

    @field_validator("bind_host")
    @classmethod
    def _listenable_host(cls, value: str) -> str:
        if not is_bind_host(value):
            raise ValueError(
                "must be an IP address (e.g. 127.0.0.1, 0.0.0.0 for every interface, ::1) or "
                "a host name of letters, digits, '-', '_' and '.' (e.g. localhost)"
            )
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_list(cls, value: str) -> str:
        if value:
            for entry in value.split(","):
                check_host_port(entry.strip())
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _named_data_dir(cls, value: object) -> object:
        # "" would be the current directory: a second cluster, key and lock wherever we run
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: name the platform's data directory, or unset it (.data)")
        return value

    @field_validator("protocol_file", mode="before")
    @classmethod
    def _named_protocol_file(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                f"is empty: name the trial's protocol file, or unset it ({DEFAULT_PROTOCOL_FILE})"
            )
        return value

    @field_validator("protocol_file")
    @classmethod
    def _usable_protocol_file(cls, value: Path) -> Path:
        try:
            load_protocol(value)
        except ProtocolFileError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("subject_hmac_key")
    @classmethod
    def _strong_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if key and (
            len(key.strip()) < SUBJECT_HMAC_KEY_MIN_LENGTH
            or len(set(key)) < SUBJECT_HMAC_KEY_MIN_DISTINCT
        ):
            raise ValueError(
                f"too weak: at least {SUBJECT_HMAC_KEY_MIN_LENGTH} random characters (e.g. "
                "`openssl rand -hex 32`); it keys the hash that pseudonymises hospital numbers"
            )
        # used exactly as given, white space included (a secret file's final newline): a key
        # in use must keep hashing as it did, and refusing it would have the operator strip
        # it, another key; processes that disagree are stopped by its fingerprint
        # (``shared.key_fingerprint``)
        return value

    def shared_port(self) -> str | None:
        """Why two listeners of the platform would be on one port, else None: the second
        cannot listen, and a check of the first's address would find the other (review
        123). Asked by ``cachexia up``, which runs them all on one host; a service run alone
        (a container of its own) may well use a port another service's setting names."""
        first_of: dict[int, str] = {}
        for field, port in self.listener_ports().items():
            if port in first_of:
                return (
                    f"{setting_variable(first_of[port])} and {setting_variable(field)} are "
                    f"both {port}: each listener needs a port of its own"
                )
            first_of[port] = field
        return None

    def listener_ports(self) -> dict[str, int]:
        """The port setting of every listener of the platform: the services' HTTP ports,
        lab-ingestion's MLLP port, and the embedded PostgreSQL's and broker's when used."""
        unused = {
            "embedded_postgres_port": not self.uses_embedded_postgres,
            "embedded_kafka_port": not self.uses_embedded_kafka,
        }
        return {
            field: getattr(self, field)
            for field in type(self).model_fields
            if field.endswith("_port") and not unused.get(field, False)
        }

    def protocol(self) -> Protocol:
        """The protocol in ``protocol_file``, read now (and checked again: ProtocolFileError
        should it have changed into a faulty one since the settings were read)."""
        return load_protocol(self.protocol_file)

    @property
    def uses_embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap_servers

    @property
    def uses_embedded_postgres(self) -> bool:
        return not _secret_text(self.database_url)

    @property
    def uses_external_infrastructure(self) -> bool:
        """KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL is set: processes that may run on other
        machines (other data directories) share the data, and so must share their keys."""
        return not (self.uses_embedded_kafka and self.uses_embedded_postgres)

    @property
    def kafka_servers(self) -> str:
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        return f"127.0.0.1:{self.embedded_kafka_port}"

    @property
    def postgres_dsn(self) -> str:
        """The URL to connect with (it may hold a password: print ``masked_url`` of it). The
        embedded server's carries the password in the data directory (review 132)."""
        if url := _secret_text(self.database_url):
            return url
        user = user_part(read_password(self.data_dir / PASSWORD_FILE))
        return f"postgresql://{user}@127.0.0.1:{self.embedded_postgres_port}/cachexia"

    def http_port(self, service: str) -> int:
        port: int = getattr(self, f"{service.replace('-', '_')}_http_port")
        return port

    def port_variables(self, service: str, port: int) -> list[str]:
        """The environment variables of ``service``'s ports that are set to ``port``: what
        to change when it cannot be opened."""
        prefix = f"{service.replace('-', '_')}_"
        return [
            setting_variable(field)
            for field in type(self).model_fields
            if field.startswith(prefix) and field.endswith("_port") and getattr(self, field) == port
        ]


def load_settings() -> PlatformSettings:
    """Read settings from the environment; on error print which variable is wrong and exit.
    A variable of the prefix that names no setting is named on standard error (a misspelt
    name would otherwise leave its setting at its default without a word)."""
    sys.stderr.write(unknown_variable_lines(os.environ, PlatformSettings))
    try:
        return PlatformSettings()
    except ValidationError as exc:
        lines = [  # a whole-settings error (no location) names its variables itself
            f"  {_variable(err['loc'])}: {err['msg']}" if err["loc"] else f"  {err['msg']}"
            for err in exc.errors()
        ]
        sys.stderr.write("cachexia: invalid settings\n" + "\n".join(lines) + "\n")
        raise SystemExit(2) from exc


def setting_variable(field: str) -> str:
    """The environment variable of a setting (``bind_host``: ``CACHEXIA_BIND_HOST``)."""
    return f"CACHEXIA_{field.upper()}"


def _secret_text(value: SecretStr | str) -> str:
    """A SecretStr's text (a plain str too: ``model_copy(update=...)`` does not validate)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _variable(location: tuple[int | str, ...]) -> str:
    """The environment variable behind an error location."""
    name = str(location[0]) if location else "?"
    if name.isupper():  # an alias such as DATABASE_URL
        return name
    return setting_variable(name)
