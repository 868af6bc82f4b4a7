"""A port of the embedded PostgreSQL or broker held by another program: `cachexia up` says
so at once in one line naming the address and the setting to change (as for a service's
port), starts nothing on it and leaves no traceback."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from cachexia.cli import main
from shared.embedded.system_user import check_reachable, ensure_system_user

KEY = "test-only-subject-hmac-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def environment(
    own_service_ports: dict[str, str], monkeypatch: pytest.MonkeyPatch, server_folder: Path
) -> None:
    monkeypatch.setenv("CACHEXIA_DATA_DIR", str(server_folder / "data"))
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", KEY)  # one server external: a key given


def test_the_embedded_brokers_port_in_use_is_one_line_naming_its_setting(
    held_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:1/db")
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", str(held_port))
    started = time.monotonic()
    assert main(["up"]) == 2
    assert time.monotonic() - started < 3  # said at once, not after a wait
    assert capsys.readouterr().err == (
        f"cachexia: the embedded broker cannot listen on 127.0.0.1:{held_port} (address "
        "already in use); stop what holds it or set CACHEXIA_EMBEDDED_KAFKA_PORT\n"
    )


def test_the_embedded_postgres_port_in_use_is_one_line_naming_its_setting(
    held_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    server_folder: Path,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", str(held_port))
    assert main(["up"]) == 2
    assert capsys.readouterr().err == (
        f"cachexia: the embedded PostgreSQL cannot listen on 127.0.0.1:{held_port} (address "
        "already in use); stop what holds it or set CACHEXIA_EMBEDDED_POSTGRES_PORT\n"
    )
    assert not (server_folder / "data" / "postgres" / "PG_VERSION").exists()  # checked first


@pytest.mark.skipif(os.geteuid() != 0, reason="a system user is used as root only")
def test_a_data_directory_the_postgres_user_cannot_reach_is_opened_for_passage_and_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`make run` as root from a project in /root (0700): the folder is opened for passage
    only (o+x, never listing) and said, not opened to every user silently (review 132)."""
    private = tmp_path / "root"
    (private / "lena").mkdir(parents=True)
    private.chmod(0o700)
    ensure_system_user()
    check_reachable(private / "lena", "the folder of the PostgreSQL data", "move it")
    err = capsys.readouterr().err
    assert f"let other users pass through {private} (o+x: search only" in err, err
    assert stat.S_IMODE(private.stat().st_mode) == 0o701
