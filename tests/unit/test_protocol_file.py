"""The protocol file (PROTOCOL.md: "All parameters live in one versioned protocol file"):
the platform's own file is found wherever the platform runs from, and a file that is
missing, not TOML, misspelt, incomplete, out of range or of another version is refused
whole with a message naming the file and the key (shared.protocol)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.protocol import (
    DEFAULT_PROTOCOL_FILE,
    LabIngestionProtocol,
    Protocol,
    ProtocolFileError,
    load_protocol,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD = 'version = "{version}"\n\n[lab_ingestion]\ncrp_nmol_per_mg_l = {factor}\n'


def written(folder: Path, text: str, name: str = "LENA-CCS-T.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ProtocolFileError) as refused:
        load_protocol(path)
    message = str(refused.value)
    assert message.startswith(f"protocol file {path}: "), message
    return message


def test_the_platforms_file_is_protocol_version_one_with_section_6s_factor() -> None:
    protocol = load_protocol(DEFAULT_PROTOCOL_FILE)
    assert protocol == Protocol(
        version="LENA-CCS-1", lab_ingestion=LabIngestionProtocol(crp_nmol_per_mg_l=9.524)
    )
    assert DEFAULT_PROTOCOL_FILE.name == "LENA-CCS-1.toml"


def test_the_platforms_file_ships_as_package_data() -> None:
    """It lies in a package (a wheel holds only those) whose data files are installed."""
    assert DEFAULT_PROTOCOL_FILE.is_absolute()
    assert DEFAULT_PROTOCOL_FILE.parent == ROOT / "shared" / "protocol"
    assert (DEFAULT_PROTOCOL_FILE.parent / "__init__.py").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "shared*" in project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "*.toml" in project["tool"]["setuptools"]["package-data"]["*"]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    assert refusal(tmp_path / "LENA-CCS-9.toml").endswith("no such file")
    assert "is a directory" in refusal(tmp_path)


def test_a_file_that_is_not_toml_is_refused_with_where(tmp_path: Path) -> None:
    text = 'version = "LENA-CCS-T"\n[lab_ingestion]\ncrp_nmol_per_mg_l = 9,524\n'
    message = refusal(written(tmp_path, text))
    assert "not valid TOML" in message and "line 3" in message
    latin1 = tmp_path / "LENA-CCS-T.toml"
    latin1.write_bytes(b'version = "LENA-CCS-T" # \xe9\n')
    assert "not UTF-8" in refusal(latin1)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (GOOD.format(version="LENA-CCS-T", factor=9.524) + "crp_nmol_per_mgl = 9.5\n",
         "lab_ingestion.crp_nmol_per_mgl: unknown key"),
        (GOOD.format(version="LENA-CCS-T", factor=9.524).replace("[lab_ingestion]", "[units]"),
         "units: unknown key"),
        ('protocol = "x"\n' + GOOD.format(version="LENA-CCS-T", factor=9.524),
         "protocol: unknown key"),
    ],
)  # fmt: skip
def test_an_unknown_key_is_refused_never_passed_over(tmp_path: Path, text: str, key: str) -> None:
    message = refusal(written(tmp_path, text))
    assert key in message, message
    assert "crp_nmol_per_mg_l" in message or "lab_ingestion" in message  # what it could be


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ('version = "LENA-CCS-T"\n', "lab_ingestion: missing"),
        ('version = "LENA-CCS-T"\n[lab_ingestion]\n', "lab_ingestion.crp_nmol_per_mg_l: missing"),
        ("[lab_ingestion]\ncrp_nmol_per_mg_l = 9.524\n", "version: missing"),
        (GOOD.format(version="LENA-CCS-T", factor='"9.524"'), "lab_ingestion.crp_nmol_per_mg_l"),
        (GOOD.format(version="LENA-CCS-T", factor="true"), "lab_ingestion.crp_nmol_per_mg_l"),
        ('version = 1\n[lab_ingestion]\ncrp_nmol_per_mg_l = 9.524\n', "version"),
    ],
)  # fmt: skip
def test_a_missing_or_mistyped_key_is_refused(tmp_path: Path, text: str, fault: str) -> None:
    assert fault in refusal(written(tmp_path, text))


def test_the_version_must_be_the_files_name(tmp_path: Path) -> None:
    path = written(tmp_path, GOOD.format(version="LENA-CCS-1", factor=10), "LENA-CCS-2.toml")
    message = refusal(path)
    assert "'LENA-CCS-1' is not the file's name" in message, message
    assert "LENA-CCS-1.toml" in message


@pytest.mark.parametrize("version", ["", " LENA-CCS-T", "LENA CCS", "x" * 33, "LENA/CCS", "-1"])
def test_a_version_an_event_could_not_record_is_refused(tmp_path: Path, version: str) -> None:
    text = GOOD.format(version=version, factor=9.524)
    assert "version: String should match pattern" in refusal(written(tmp_path, text))


@given(factor=st.floats(max_value=0.0) | st.sampled_from([math.inf, -math.inf, math.nan]))
def test_a_factor_not_positive_and_finite_is_refused(
    tmp_path_factory: pytest.TempPathFactory, factor: float
) -> None:
    text = GOOD.format(version="LENA-CCS-T", factor=_toml_float(factor))
    message = refusal(written(tmp_path_factory.mktemp("p"), text))
    assert "lab_ingestion.crp_nmol_per_mg_l: " in message, message
    assert "greater than 0" in message or "finite" in message, message


PLAUSIBLE = st.floats(min_value=8.0, max_value=11.0)


@given(factor=PLAUSIBLE | st.integers(8, 11))
def test_a_plausible_factor_is_read_exactly(
    tmp_path_factory: pytest.TempPathFactory, factor: float
) -> None:
    text = GOOD.format(version="LENA-CCS-T", factor=_toml_float(factor))
    protocol = load_protocol(written(tmp_path_factory.mktemp("p"), text))
    assert protocol.lab_ingestion.crp_nmol_per_mg_l == factor


@given(
    factor=st.floats(min_value=0.0, max_value=8.0, exclude_min=True, exclude_max=True)
    | st.floats(min_value=11.0, exclude_min=True, allow_infinity=False)
    | st.sampled_from([0.105, 1e-300, 1e300, 95.24, 7.99, 11.01])
)
def test_an_implausible_factor_is_refused_naming_the_key_and_the_window(
    tmp_path_factory: pytest.TempPathFactory, factor: float
) -> None:
    """Review 118: 0.105 (the inverse convention: 95.24 nmol/L stored as 907 mg/L), 1e-300
    and 1e300 loaded. CRP's molar mass gives 9.524; 8 to 11 is taken."""
    text = GOOD.format(version="LENA-CCS-T", factor=_toml_float(factor))
    message = refusal(written(tmp_path_factory.mktemp("p"), text))
    assert "lab_ingestion.crp_nmol_per_mg_l: must lie between 8 and 11 nmol/L per mg/L" in message
    assert "9.524" in message and "Value error" not in message, message


def _toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)
