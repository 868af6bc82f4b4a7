"""`cachexia`: PostgreSQL down or its URL malformed is one line and an exit status, never a
traceback or the password; the patient-matching key is checked before anything starts."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import asyncpg
import pytest

import cachexia.platform as platform
from cachexia.cli import main
from cachexia.errors import InfrastructureError
from cachexia.up import Platform
from shared.secrets import KEY_FILE
from shared.settings import PlatformSettings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(
    clean_platform_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CACHEXIA_DATA_DIR", str(tmp_path / "data"))


PASSWORD = "s3cr3t-pw"
DATABASE_URL = f"postgresql://cachexia:{PASSWORD}@db.internal:5432/cachexia"
LOCAL_CODE = ["--application", "LIS", "--facility", "HOSP", "--code", "CRP"]
DATABASE_COMMANDS = [
    ["token", "list"],
    ["token", "create", "--role", "lab", "--name", "lis"],
    ["token", "revoke", "--name", "lis"],
    ["source", "add", "--application", "LIS", "--facility", "HOSP"],
    ["source", "list"],
    ["source", "remove", "--application", "LIS", "--facility", "HOSP"],
    ["source", "code", "add", *LOCAL_CODE, "--loinc", "1988-5"],
    ["source", "code", "list"],
    ["source", "code", "remove", *LOCAL_CODE],
    ["migrate"],
]


def _connect_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[str]:
    tried: list[str] = []

    async def connect(dsn: str, **kwargs: object) -> None:
        tried.append(dsn)
        raise error

    monkeypatch.setattr(asyncpg, "connect", connect)
    return tried


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('10.0.0.9', 5432)"),
        OSError(-2, "Name or service not known"),
        TimeoutError(),
        asyncpg.InvalidPasswordError('password authentication failed for user "cachexia"'),
    ],
)
def test_postgres_out_of_reach_is_one_line_and_exit_1(
    command: list[str],
    error: BaseException,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    tried = _connect_raising(monkeypatch, error)
    assert main(command) == 1
    assert tried == [DATABASE_URL]
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("cachexia: PostgreSQL at ")
    assert (
        "postgresql://cachexia:***@db.internal:5432/cachexia could not be reached" in captured.err
    )
    assert "make run" in captured.err
    assert PASSWORD not in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_the_embedded_database_not_running_says_to_start_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _connect_raising(monkeypatch, ConnectionRefusedError(111, "Connect call failed"))
    assert main(["token", "list"]) == 1
    err = capsys.readouterr().err
    assert f"postgresql://postgres@127.0.0.1:{load_settings().embedded_postgres_port}/" in err
    assert "`make run`" in err


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_the_embedded_database_refusing_the_password_names_the_data_directory(
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Review 156: run from another directory, the commands read no password (the platform's
    is in its data directory) and said "could not be reached; start the platform"."""
    _connect_raising(monkeypatch, asyncpg.InvalidPasswordError("password authentication failed"))
    assert main(command) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("cachexia: the embedded PostgreSQL at postgresql://postgres@127.0.0.1:")
    assert "refused this command (InvalidPasswordError: password authentication failed)" in err
    password_file = tmp_path / "data" / "secrets" / "postgres-password"
    assert f"no password: {password_file} does not exist" in err
    assert f"this command's data directory is {tmp_path / 'data'}, not the platform's" in err
    assert "set CACHEXIA_DATA_DIR to the platform's data directory" in err
    assert "start the platform" not in err


@pytest.mark.parametrize(
    "error",
    [
        ValueError("invalid literal for int() with base 10: 'x'"),
        OverflowError("connect(): port must be 0-65535."),
        asyncpg.ClientConfigurationError("`sslmode` parameter must be one of: disable, ..."),
    ],
)
@pytest.mark.parametrize("command", [["token", "list"], ["source", "list"], ["migrate"]])
def test_a_url_postgres_cannot_use_is_one_line_and_exit_2(
    command: list[str],
    error: BaseException,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{DATABASE_URL}?sslmode=bogus")
    _connect_raising(monkeypatch, error)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is malformed" in err
    assert "DATABASE_URL" in err
    assert PASSWORD not in err


def test_a_real_refused_connection_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:1/db")
    assert main(["token", "list"]) == 1
    err = capsys.readouterr().err
    assert "postgresql://u:***@127.0.0.1:1/db could not be reached" in err
    assert PASSWORD not in err
    # a platform started on moved ports: the command needs the same setting (review 86)
    assert "export the same CACHEXIA_EMBEDDED_POSTGRES_PORT" in err


@pytest.mark.parametrize(
    ("command", "infrastructure"),
    [
        (["service", "lab-ingestion"], {"DATABASE_URL": DATABASE_URL}),
        (["service", "lab-ingestion"], {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}),
        (["up"], {"DATABASE_URL": DATABASE_URL, "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}),
    ],
)
def test_external_infrastructure_without_the_key_stops_before_anything_starts(
    command: list[str],
    infrastructure: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for name, value in infrastructure.items():
        monkeypatch.setenv(name, value)
    started: list[str] = []

    def run_service(*_: object) -> int:
        started.append("service")
        return 0

    def run_platform(*_: object) -> int:
        started.append("up")
        return 0

    monkeypatch.setattr("cachexia.cli.run_service", run_service)
    monkeypatch.setattr("cachexia.up.run_platform", run_platform)
    assert main(command) == 2
    assert started == []
    err = capsys.readouterr().err
    assert "CACHEXIA_SUBJECT_HMAC_KEY is not set" in err
    assert not (tmp_path / "data" / KEY_FILE).exists()


def test_an_empty_key_file_stops_the_embedded_platform_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key_file = tmp_path / "data" / KEY_FILE
    key_file.parent.mkdir(parents=True)
    key_file.write_text("")
    monkeypatch.setattr("cachexia.up.run_platform", lambda *a: pytest.fail("started"))
    assert main(["up"]) == 2
    assert f"{key_file} is empty" in capsys.readouterr().err


def test_a_service_that_hashes_nothing_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    started: list[str] = []

    def run_service(name: str, settings: PlatformSettings) -> int:
        started.append(name)
        return 0

    monkeypatch.setattr("cachexia.cli.run_service", run_service)
    assert main(["service", "crp-monitor"]) == 0
    assert started == ["crp-monitor"]


def test_up_announces_the_database_without_its_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = PlatformSettings(
        data_dir=tmp_path, database_url=DATABASE_URL, kafka_bootstrap_servers="kafka-1:9092"
    )

    async def announce() -> None:
        up = Platform(settings)
        up.stopping.set()
        await up._announce()

    asyncio.run(announce())
    out = capsys.readouterr().out
    assert "postgresql://cachexia:***@db.internal:5432/cachexia" in out
    assert PASSWORD not in out


def test_up_gives_its_services_the_embedded_platforms_key(tmp_path: Path) -> None:
    """They see DATABASE_URL set (the embedded server's socket), as with external
    infrastructure, where they would refuse the data directory's key."""
    up = Platform(PlatformSettings(data_dir=tmp_path))
    up.subject_key = b"0123456789abcdef" * 4
    env = up._child_env()
    assert env["CACHEXIA_SUBJECT_HMAC_KEY"] == "0123456789abcdef" * 4
    child = PlatformSettings(
        data_dir=tmp_path,
        database_url=env["DATABASE_URL"],
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        subject_hmac_key=env["CACHEXIA_SUBJECT_HMAC_KEY"],
    )
    assert child.uses_external_infrastructure


def test_wait_for_postgres_gives_up_with_the_masked_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _connect_raising(monkeypatch, ConnectionRefusedError(111, "refused"))
    with pytest.raises(InfrastructureError) as error:
        asyncio.run(platform.wait_for_postgres(DATABASE_URL, timeout=0))
    assert "cachexia:***@db.internal" in str(error.value)
    assert PASSWORD not in str(error.value)


def test_an_error_quoting_the_url_or_password_is_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    _connect_raising(monkeypatch, ValueError(f"bad DSN {DATABASE_URL} near {PASSWORD!r}"))
    assert main(["token", "list"]) == 2
    err = capsys.readouterr().err
    assert PASSWORD not in err
    assert "bad DSN postgresql://cachexia:***@db.internal:5432/cachexia near '***'" in err


def test_message_show_reaches_the_database_as_every_operation_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", "0123456789abcdef" * 4)
    _connect_raising(monkeypatch, ConnectionRefusedError(111, "Connect call failed"))
    assert main(["message", "show", "Q-1", "--source", "LIS^HOSP"]) == 1
    assert "`make run`" in capsys.readouterr().err


def test_message_show_needs_the_sender(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["message", "show", "Q-1"])
    assert exit_.value.code == 2
    assert "--source" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["message", "show", "Q-1", "--source", "LIS^HOSP"],
        ["replay", "6f1c1b8e-2f0a-4d39-9d57-0c1f3e1a2b3c"],
        ["replay", "6f1c1b8e-2f0a-4d39-9d57-0c1f3e1a2b3c", "--dry-run"],
        ["service", "lab-ingestion"],
    ],
)
def test_only_up_creates_the_key_another_command_stops_naming_the_file(
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Review 69: run from another directory, these hashed ids under a new key of their own
    (`message show` found nothing, `replay` stored ids no resend or correction finds)."""
    tried = _connect_raising(monkeypatch, AssertionError("reached the database"))
    monkeypatch.setattr("cachexia.cli.run_service", lambda *a: pytest.fail("started"))
    assert main(command) == 2
    key_file = tmp_path / "data" / KEY_FILE
    assert not key_file.exists()
    assert tried == []  # stopped before connecting
    err = capsys.readouterr().err
    assert f"{key_file} does not exist" in err
    assert "CACHEXIA_DATA_DIR" in err
    assert "CACHEXIA_SUBJECT_HMAC_KEY" in err


def test_up_checks_the_key_and_leaves_its_creation_to_the_platform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Review 156: created here, before the platform checked its ports, a start that failed
    on a port in use left a key in a new data directory."""
    started: list[PlatformSettings] = []

    def run_platform(settings: PlatformSettings) -> int:
        started.append(settings)
        return 0

    monkeypatch.setattr("cachexia.up.run_platform", run_platform)
    assert main(["up"]) == 0
    assert len(started) == 1
    assert not (tmp_path / "data" / KEY_FILE).exists()


def test_up_with_an_unusable_key_file_stops_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key_file = tmp_path / "data" / KEY_FILE
    key_file.parent.mkdir(parents=True)
    key_file.write_text("short")
    monkeypatch.setattr("cachexia.up.run_platform", lambda *_: pytest.fail("started"))
    assert main(["up"]) == 2
    assert f"the patient-matching key file {key_file} holds too short" in capsys.readouterr().err


async def _returning(value: object, *_: object, **__: object) -> object:
    return value


async def test_up_creates_the_key_on_its_first_start_once_its_servers_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The embedded servers, topics, migrations and the key's record: as if done."""
    for name in ("start_postgres", "spawn_broker"):
        monkeypatch.setattr(f"cachexia.up.{name}", lambda *_: None)
    monkeypatch.setattr("cachexia.up.EmbeddedPostgres.create_database", lambda *_: None)
    monkeypatch.setattr("cachexia.up.EmbeddedTansu.wait_listening", lambda *_: None)
    done: list[tuple[str, object]] = [
        ("wait_for_postgres", None), ("wait_for_kafka", None), ("create_topics", []),
        ("migrate_all", {}), ("check_subject_key", True),
    ]  # fmt: skip
    for name, value in done:
        monkeypatch.setattr(f"cachexia.up.{name}", functools.partial(_returning, value))
    platform = Platform(load_settings())
    await platform._start_infrastructure()
    key = (tmp_path / "data" / KEY_FILE).read_text()
    assert len(key) == 64
    assert platform.subject_key == key.encode()
