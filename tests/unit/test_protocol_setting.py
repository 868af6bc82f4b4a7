"""CACHEXIA_PROTOCOL_FILE: the platform's protocol file unless set; a file that cannot be
used stops every process at its start (the settings are read first), with a message that
names the variable, the file and the fault, before anything starts (README: Settings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

import cachexia.cli
from cachexia.cli import main
from shared.protocol import DEFAULT_PROTOCOL_FILE
from shared.settings import PlatformSettings

ROOT = Path(__file__).resolve().parents[2]
FAULTS = [
    ("LENA-CCS-9.toml", None, "no such file"),
    ("LENA-CCS-T.toml", "version = 'LENA-CCS-T'\n[lab_ingestion\n", "not valid TOML"),
    (
        "LENA-CCS-T.toml",
        "version = 'LENA-CCS-T'\n[lab_ingestion]\ncrp_nmol_per_mg_l = 9.524\nfactor = 2\n",
        "lab_ingestion.factor: unknown key",
    ),
    (
        "LENA-CCS-T.toml",
        "version = 'LENA-CCS-T'\n[lab_ingestion]\ncrp_nmol_per_mg_l = 0\n",
        "lab_ingestion.crp_nmol_per_mg_l: Input should be greater than 0",
    ),
    (
        "LENA-CCS-T.toml",
        "version = 'LENA-CCS-T'\n[lab_ingestion]\ncrp_nmol_per_mg_l = -inf\n",
        "lab_ingestion.crp_nmol_per_mg_l: Input should be a finite number",
    ),
    (
        "LENA-CCS-2.toml",
        "version = 'LENA-CCS-1'\n[lab_ingestion]\ncrp_nmol_per_mg_l = 9.524\n",
        "its version 'LENA-CCS-1' is not the file's name",
    ),
]


@pytest.fixture(autouse=True)
def clean_environment(clean_platform_environment: None) -> None:
    """No setting inherited, and the current directory an empty one."""


def _file(tmp_path: Path, name: str, text: str | None) -> Path:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    return path


def test_the_platforms_file_is_found_from_any_directory() -> None:
    settings = PlatformSettings()
    assert settings.protocol_file == DEFAULT_PROTOCOL_FILE
    assert settings.protocol().version == "LENA-CCS-1"
    assert settings.protocol().lab_ingestion.crp_nmol_per_mg_l == 9.524


def test_the_setting_names_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "version = 'LENA-CCS-T'\n[lab_ingestion]\ncrp_nmol_per_mg_l = 10\n"
    monkeypatch.setenv("CACHEXIA_PROTOCOL_FILE", str(_file(tmp_path, "LENA-CCS-T.toml", text)))
    protocol = PlatformSettings().protocol()
    assert (protocol.version, protocol.lab_ingestion.crp_nmol_per_mg_l) == ("LENA-CCS-T", 10.0)


@pytest.mark.parametrize(("name", "text", "fault"), FAULTS)
def test_the_settings_refuse_a_file_that_cannot_be_used(
    tmp_path: Path, name: str, text: str | None, fault: str
) -> None:
    path = _file(tmp_path, name, text)
    with pytest.raises(ValidationError) as refused:
        PlatformSettings(protocol_file=path)
    assert f"protocol file {path}: " in str(refused.value)
    assert fault in str(refused.value)


@pytest.mark.parametrize("command", [["service", "lab-ingestion"], ["up"], ["migrate"]])
@pytest.mark.parametrize(("name", "text", "fault"), FAULTS)
def test_the_command_stops_before_anything_starts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    name: str,
    text: str | None,
    fault: str,
) -> None:
    path = _file(tmp_path, name, text)
    monkeypatch.setenv("CACHEXIA_PROTOCOL_FILE", str(path))

    def started(*args: object) -> int:
        raise AssertionError("started with a protocol file that cannot be used")

    monkeypatch.setattr(cachexia.cli, "_run", started)
    with pytest.raises(SystemExit) as stopped:
        main(command)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("cachexia: invalid settings\n"), err
    assert f"CACHEXIA_PROTOCOL_FILE: Value error, protocol file {path}: " in err, err
    assert fault in err, err


def test_an_empty_setting_is_refused_not_read_as_a_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CACHEXIA_PROTOCOL_FILE", "")
    with pytest.raises(ValidationError, match="is empty: name the trial's protocol file"):
        PlatformSettings()


def test_the_service_process_exits_with_the_message(tmp_path: Path) -> None:
    """``cachexia service lab-ingestion`` as its supervisor starts it: status 2, one message."""
    text = "version = 'LENA-CCS-T'\n[lab_ingestion]\ncrp_nmol_per_mg_l = nan\n"
    path = _file(tmp_path, "LENA-CCS-T.toml", text)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CACHEXIA_PROTOCOL_FILE": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "cachexia.cli", "service", "lab-ingestion"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "cachexia: invalid settings\n  CACHEXIA_PROTOCOL_FILE: Value error, protocol file "
        f"{path}: lab_ingestion.crp_nmol_per_mg_l: Input should be a finite number (given nan)\n"
    )
