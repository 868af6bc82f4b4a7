"""A unit written out with ``per`` is compared by what it measures, never passed over.

``unit_written`` read ``<unit> per <volume>`` as ``unit/volume`` and passed it over as words
when that unit's factor could not be told, so a first word naming another unit (``%``, ``M``
for a million, ``mEq``) beside the coded one was ignored: ``10*9/L^% per 100 WBC`` published
a neutrophil percentage (62) as 62 x10^9/L, ``10*3/uL^M per uL`` millions as thousands. And a
count's multiplier word before ``per`` (``K per L``, ``Mil per uL``) was passed over too.
PROTOCOL 6: a unit the platform cannot convert is a rejection with a reason, never a guess.
Words that are a unit's (``milligrams per liter``, ``billion per litre``, ``percent``) are read
as the unit they name and compared too (``test_unit_words``): only text naming no unit is
passed over.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analytes import UnitConversion, resolve_unit, to_canonical
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned

CASES = [
    (Analyte.NEUTROPHILS, ("10*9/L", "% per 100 WBC")),  # a differential percentage
    (Analyte.NEUTROPHILS, ("10*9/L", "% per leukocytes")),
    (Analyte.NEUTROPHILS, ("10*3/uL", "M per uL")),  # million per microlitre: 1000x
    (Analyte.PLATELETS, ("10*3/uL", "M per microlitre")),
    (Analyte.CRP, ("mg/L", "mEq per L")),
    (Analyte.HAEMOGLOBIN, ("mmol/L", "mEq per L")),
    (Analyte.NEUTROPHILS, ("10*3/uL", "K per L")),  # a thousand per litre: a millionth
    (Analyte.PLATELETS, ("10*9/L", "Mil per uL")),  # a million per microlitre: 1000x
]


@pytest.mark.parametrize(("analyte", "components"), CASES)
def test_a_per_unit_of_another_or_unknown_factor_is_refused(
    analyte: Analyte, components: tuple[str, ...]
) -> None:
    resolved = resolve_unit(analyte, components)
    assert isinstance(resolved, Rejected), f"{components!r} read as {resolved!r}"
    assert resolved.code is RejectionCode.UNCONVERTIBLE_UNIT


def test_a_neutrophil_percentage_is_never_published_as_a_count() -> None:
    # 62 % of WBC: read today as 62 x10^9/L (a neutrophil count ~15x any real one)
    converted = to_canonical(Analyte.NEUTROPHILS, 62.0, ("10*9/L", "% per 100 WBC", "UCUM"))
    assert isinstance(converted, Rejected), f"read as {converted!r}"


def test_million_per_microlitre_is_not_read_as_thousand_per_microlitre() -> None:
    converted = to_canonical(Analyte.NEUTROPHILS, 4.2, ("10*3/uL", "M per uL"))
    assert isinstance(converted, Rejected), f"read as {converted!r}"


@pytest.mark.parametrize(
    ("value", "obx6"),
    [("62", "10*9/L^% per 100 WBC^UCUM"), ("4.2", "10*3/uL^M per uL^L")],
)
def test_an_hl7_result_so_written_is_refused_by_the_planner(value: str, obx6: str) -> None:
    plan = planned(one_result_oru("751-8^Neutrophils^LN", value, obx6))
    assert isinstance(plan, Rejected), f"planned as {plan!r}"
    assert plan.code is RejectionCode.UNCONVERTIBLE_UNIT


# a count's first word before "per" and its power of ten (None: no count's factor)
FIRST_WORDS = {
    "K": 3, "k": 3, "Thou": 3, "thousand": 3, "10^3": 3, "Mil": 6, "Million": 6, "M": 6,
    "10^6": 6, "Giga": 9, "G": 9, "10^9": 9, "%": None, "mEq": None, "mg": None, "IU": None,
    "mmol": None,
}  # fmt: skip
# a volume after "per" and its power of ten in litres
VOLUMES = {"L": 0, "litre": 0, "liter": 0, "dL": -1, "mL": -3, "uL": -6, "microlitre": -6}
# the coded counts and their power of ten per litre
COUNTS = {"10*9/L": 9, "10*3/uL": 9, "/uL": 6}


@given(
    coded=st.sampled_from(sorted(COUNTS)),
    first=st.sampled_from(sorted(FIRST_WORDS)),
    volume=st.sampled_from(sorted(VOLUMES)),
    words=st.sampled_from(["", " of blood", " (WBC)", " 100 WBC"]),
)
def test_a_per_unit_beside_a_count_is_read_exactly_when_its_factor_is_the_counts(
    coded: str, first: str, volume: str, words: str
) -> None:
    power = FIRST_WORDS[first]
    same = power is not None and power - VOLUMES[volume] == COUNTS[coded]
    resolved = resolve_unit(Analyte.NEUTROPHILS, (coded, f"{first} per {volume}{words}", "L"))
    if same:
        assert isinstance(resolved, UnitConversion), (first, volume, resolved)
    else:
        assert isinstance(resolved, Rejected), (coded, first, volume)
        assert resolved.code is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("billion per litre", True),  # 10^9/L: the coded unit
        ("milligrams per liter", False),  # a mass concentration beside a count
        ("cells per microlitre", False),  # a thousandth of 10^9/L
        ("percent", False),  # a differential's percentage
    ],
)
def test_words_naming_a_unit_with_per_are_compared_not_passed_over(text: str, read: bool) -> None:
    resolved = resolve_unit(Analyte.NEUTROPHILS, ("10*9/L", text))
    assert isinstance(resolved, UnitConversion if read else Rejected), resolved
