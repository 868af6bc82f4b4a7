"""lab-ingestion's unit conversions take the protocol file's laboratory conventions
(``bootstrap.unit_parameters``: its composition root's and the replay's)."""

from __future__ import annotations

from pathlib import Path

from services.lab_ingestion.bootstrap import unit_parameters
from services.lab_ingestion.domain.analytes import to_canonical
from services.lab_ingestion.domain.normalise import UnitParameters
from shared.contracts.events.lab import Analyte
from shared.protocol import DEFAULT_PROTOCOL_FILE, load_protocol


def test_the_domains_default_is_the_platforms_protocol_file() -> None:
    """Tests and tools that build UnitParameters() convert as the platform does."""
    assert unit_parameters(load_protocol(DEFAULT_PROTOCOL_FILE)) == UnitParameters()


def test_a_file_of_another_factor_gives_that_factors_conversion(tmp_path: Path) -> None:
    path = tmp_path / "LENA-CCS-T.toml"
    path.write_text('version = "LENA-CCS-T"\n[lab_ingestion]\ncrp_nmol_per_mg_l = 10\n')
    params = unit_parameters(load_protocol(path))
    assert to_canonical(Analyte.CRP, 95.24, ["nmol/L"], params) == (9.524, "mg/L")
    assert to_canonical(Analyte.CRP, 95.24, ["nmol/L"]) == (10.0, "mg/L")
    assert to_canonical(Analyte.CRP, 1.5, ["mg/dL"], params) == (15.0, "mg/L")  # not a parameter
