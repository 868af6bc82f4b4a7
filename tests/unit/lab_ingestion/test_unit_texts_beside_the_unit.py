"""OBX-6 / FHIR Quantity unit components beside the recognised unit.

The rule refused a component written as another unit (``10*9/L^%``) but still passes over
any component with words and spaces in it as "a description", even when that text names
another unit first (``% (percent)``, ``% of WBC``, ``mg/dL (milligrams per decilitre)``):
a neutrophil percentage is then published as a count, a CRP in mg/dL as mg/L (tenfold).
And it now refuses components that are the same unit written another way
(``micromol/L`` beside ``umol/L``, ``g/100mL`` beside ``g/dL``), which were read before:
a bilirubin or haemoglobin result lost (AE) where it used to be stored correctly.
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.analytes import UnitConversion, resolve_unit
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from shared.contracts.events.lab import Analyte


@pytest.mark.parametrize(
    ("analyte", "components"),
    [
        # the commit's own case (10*9/L^%) with the percent sign followed by its words
        (Analyte.NEUTROPHILS, ("10*9/L", "% (percent)", "L")),
        (Analyte.NEUTROPHILS, ("10*9/L", "% of WBC", "L")),
        (Analyte.PLATELETS, ("10*9/L", "% (percent)", "L")),
        # a CRP whose text component names mg/dL: mg/L beside mg/dL is already refused
        (Analyte.CRP, ("mg/L", "mg/dL (milligrams per decilitre)", "L")),
        (Analyte.CRP, ("mg/L", "mg/dL [milligram per deciliter]", "UCUM")),
        (Analyte.HAEMOGLOBIN, ("g/dL", "g/L (grams per litre)", "L")),
    ],
    ids=[
        "anc-percent-words",
        "anc-percent-of-wbc",
        "plt-percent-words",
        "crp-mgdl-words",
        "crp-mgdl-bracket",
        "hb-gl-words",
    ],
)
def test_a_component_naming_another_unit_before_its_words_is_refused(
    analyte: Analyte, components: tuple[str, ...]
) -> None:
    resolved = resolve_unit(analyte, components)
    # which unit the value is in cannot be told: refused, as '10*9/L^%' and 'mg/L^mg/dL' are
    assert isinstance(resolved, Rejected), (
        f"{components!r} read as {getattr(resolved, 'source_unit', resolved)!r}"
    )
    assert resolved.code == RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    ("analyte", "components", "unit"),
    [
        # micromol/L is umol/L (Australian/NZ and UK pathology write it out)
        (Analyte.BILIRUBIN, ("umol/L", "micromol/L", "UCUM"), "umol/L"),
        (Analyte.CREATININE, ("umol/L", "micromol/L", "L"), "umol/L"),
        # g/100mL and mg/100mL are exactly g/dL and mg/dL
        (Analyte.HAEMOGLOBIN, ("g/dL", "g/100mL", "UCUM"), "g/dL"),
        (Analyte.CREATININE, ("mg/dL", "mg/100mL", "UCUM"), "mg/dL"),
        # 1000/uL is 10*3/uL
        (Analyte.NEUTROPHILS, ("10*3/uL", "1000/uL", "UCUM"), "10*3/uL"),
        # count displays of Cerner (x10^3/mcL), of LIS text (K/ul, K/cumm: cubic millimetre)
        (Analyte.NEUTROPHILS, ("10*3/uL", "x10^3/mcL", "UCUM"), "10*3/uL"),
        (Analyte.NEUTROPHILS, ("10*3/uL", "10*3/mcL", "UCUM"), "10*3/uL"),
        (Analyte.NEUTROPHILS, ("10*3/uL", "K/ul", "UCUM"), "10*3/uL"),
        (Analyte.PLATELETS, ("10*3/uL", "K/cumm", "L"), "10*3/uL"),
        (Analyte.NEUTROPHILS, ("/uL", "cells/cumm", "L"), "/uL"),
    ],
    ids=[
        "bili-micromol",
        "crea-micromol",
        "hb-g-100ml",
        "crea-mg-100ml",
        "anc-1000-ul",
        "anc-x10-3-mcl",
        "anc-10-3-mcl",
        "anc-K-ul",
        "plt-K-cumm",
        "anc-cells-cumm",
    ],
)
def test_a_component_that_is_the_same_unit_written_out_is_read(
    analyte: Analyte, components: tuple[str, ...], unit: str
) -> None:
    resolved = resolve_unit(analyte, components)
    assert isinstance(resolved, UnitConversion), getattr(resolved, "reason", resolved)
    assert resolved.source_unit == unit
