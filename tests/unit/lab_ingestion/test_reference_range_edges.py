"""Review 70 (mutation testing): reference-range rules of normalisation that no test pinned.

Each test here failed against a mutant of services/lab_ingestion/domain that every other
unit test let through (see the review's report)."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.normalise import normalise, parse_reference_range
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_normalise import accepted, observation

N = Analyte.NEUTROPHILS


@pytest.mark.parametrize(
    "text",
    [
        "<75",  # a differential's percent range (40-75 %) beside the absolute count
        "1.5-75",
        "1.5-21",  # just above the highest ULN a laboratory has for neutrophils (20)
    ],
)
def test_a_neutrophil_upper_limit_no_laboratory_has_is_dropped(text: str) -> None:
    """PLAUSIBILITY: REFERENCE_LIMIT_WINDOWS gives neutrophils' ULN at most 20 x10^9/L.
    A ULN of 75 read as x10^9/L makes every count "normal" for a ULN-based rule; the
    existing tests only tried ranges whose LLN was off as well (and a x1000 ULN)."""
    result = accepted(normalise(observation(N, "3.2", ("10*9/L",), reference_range=text)))
    assert (result.reference_low, result.reference_high) == (None, None)


def test_a_neutrophil_upper_limit_at_the_window_edge_is_kept() -> None:
    result = accepted(normalise(observation(N, "3.2", ("10*9/L",), reference_range="1.5-20")))
    assert (result.reference_low, result.reference_high) == (1.5, 20.0)


def test_a_range_whose_bounds_are_equal_is_read_not_dropped() -> None:
    """parse_reference_range: only a low bound *above* the high one gives (None, None)."""
    assert parse_reference_range("5-5") == (5.0, 5.0)
    assert parse_reference_range("5.1-5") == (None, None)


@pytest.mark.parametrize("text", ["1500.5-7500.5", "1500,5-7500,5", "1500.0-7500.0"])
def test_a_count_per_microlitre_range_with_decimals_is_dropped(text: str) -> None:
    """A count per microlitre has no decimals: its range written with any is dropped (the
    value itself would be refused), even where the reading would land inside the window."""
    result = accepted(normalise(observation(N, "3200", ("/uL",), reference_range=text)))
    assert result.value == 3.2
    assert (result.reference_low, result.reference_high) == (None, None)
