"""A count's multiplier word in any case, and what a unit's rejection quotes (review 68).

``THOU/uL``, ``Thou/uL``, ``GPT/l`` mean what their listed spellings mean: the word before
the slash has no case-sensitive reading in UCUM. The rest keeps its case (``u`` is micro,
``U`` a unit; ``m`` milli, ``M`` mega; ``g`` gram, ``G`` giga). A reason quotes a unit that
is a listed spelling (this service's own words); other text only by its length.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.unit_spellings import COUNT_WORDS, UNIT_SPELLINGS, recognise_unit
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_normalise import observation

# (listed spelling, its UCUM code) for each spelling that starts with a count word
WORDED = [
    (spelling, ucum)
    for ucum, spellings in UNIT_SPELLINGS.items()
    for spelling in spellings
    if "/" in spelling and spelling.split("/")[0].casefold() in COUNT_WORDS
]


def test_every_count_word_is_listed_as_written() -> None:
    assert {s.split("/")[0] for s, _ in WORDED} == set(COUNT_WORDS.values())


@given(listed=st.sampled_from(WORDED), cases=st.lists(st.booleans(), min_size=8, max_size=8))
def test_a_count_word_in_any_case_is_the_listed_unit(
    listed: tuple[str, str], cases: list[bool]
) -> None:
    spelling, ucum = listed
    word, rest = spelling.split("/", 1)
    cased = "".join(c.upper() if up else c.lower() for c, up in zip(word, cases, strict=False))
    assert recognise_unit(f"{cased}/{rest}") == ucum
    assert recognise_unit(f" {cased} / {rest.replace('u', chr(0xB5), 1)}") == ucum


@pytest.mark.parametrize(
    ("unit", "ucum"),
    [
        ("THOU/uL", "10*3/uL"), ("Thou/uL", "10*3/uL"), ("THOUSAND/uL", "10*3/uL"),
        ("TSD/ul", "10*3/uL"), ("GPT/l", "10*9/L"), ("Gpt/l", "10*9/L"), ("GIGA/l", "10*9/L"),
        ("gIGA/L", "10*9/L"),
        ("10*3/mm3", "10*3/uL"), ("x10*3/mm3", "10*3/uL"), ("10*3/mm\u00b3", "10*3/uL"),
    ],
)  # fmt: skip
def test_review68_spellings(unit: str, ucum: str) -> None:
    assert recognise_unit(unit) == ucum


@pytest.mark.parametrize(
    "unit",
    [
        "Thou/UL",  # the rest in another case than listed: left to the one-case rule
        "Thou/ul",
        "Mmol/L",  # megamole
        "mMol/L",
        "u/L",  # micro with its unit lost (ukat/L is 60 U/L), not U/L
        "MG/dL",
        "Th\u043eu/uL",  # a word folds in ASCII only: a Cyrillic o is no o
    ],
)
def test_where_case_carries_meaning_nothing_is_folded(unit: str) -> None:
    assert recognise_unit(unit) is None


@pytest.mark.parametrize("unit", ["K/uL", "Thousand/uL", "THOU/uL", "cells/uL", "Gpt/l"])
def test_a_listed_unit_the_analyte_does_not_take_is_named(unit: str) -> None:
    result = normalise(observation(Analyte.CRP, unit=(unit,)))
    assert isinstance(result, Rejected) and result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert repr(unit) in result.reason, result.reason


@pytest.mark.parametrize("unit", ["Thou Sokha", "THOU/uL Smith", "Thou/UL"])
def test_text_that_is_no_listed_unit_is_told_by_its_length(unit: str) -> None:
    result = normalise(observation(Analyte.PLATELETS, value="42", unit=(unit,)))
    assert isinstance(result, Rejected) and result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert unit not in result.reason and "Thou" not in result.reason, result.reason
    assert f"(text of {len(unit)} characters, not a known unit)" in result.reason
