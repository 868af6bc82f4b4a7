"""No analyser reports a platelet count below 1 x10^9/L (1000 /uL): a smaller count per
microlitre is a unit mislabelled for 10^3/uL (``250`` /uL stored as 0.25 x10^9/L: grade-4
thrombocytopenia, a dose held), refused. Neutrophils have no such floor."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_normalise import accepted, observation, rejected

_PER_MICROLITRE = st.sampled_from(["/uL", "cells/uL", "/mm3", "/\u00b5L", "cells/mcL"])


@given(count=st.integers(1, 999), unit=_PER_MICROLITRE)
def test_a_platelet_count_per_microlitre_below_any_measured_is_refused(
    count: int, unit: str
) -> None:
    result = rejected(
        normalise(observation(Analyte.PLATELETS, str(count), (unit,))),
        RejectionCode.IMPLAUSIBLE_VALUE,
    )
    assert "below any platelets count measured" in result.reason
    assert "whole cells" in result.reason and "check the unit" in result.reason


@given(count=st.integers(1000, 5_000_000), unit=_PER_MICROLITRE)
def test_a_platelet_count_per_microlitre_from_one_thousand_is_read(count: int, unit: str) -> None:
    result = accepted(normalise(observation(Analyte.PLATELETS, str(count), (unit,))))
    assert result.value == count / 1000


def test_no_platelets_is_a_count() -> None:
    assert accepted(normalise(observation(Analyte.PLATELETS, "0", ("/uL",)))).value == 0.0


@given(count=st.integers(0, 999))
def test_a_severe_neutropenia_per_microlitre_is_read(count: int) -> None:
    """An ANC of 250 /uL is real (grade 4): no floor for neutrophils."""
    result = accepted(normalise(observation(Analyte.NEUTROPHILS, str(count), ("/uL",))))
    assert result.value == count / 1000
