"""Review 152: real-world ORU^R01 of German, Austrian, French, Italian, Belgian, Dutch,
Swedish and UK laboratory systems lost a grade-3/4 ANC with its CBC (AE for the whole
message) where a neighbouring result was written in a way not read:

- F1: a platelet count the lab could not make, in words not known (``entfällt``,
  ``Gerinnsel``, ``Ininterprétable``, ``Non valutabile``, ``volgt``, ``zie opm.``, ``ej
  utfört``): read as not obtained, as ``n.b.`` is; zero counts stay refused.
- F2: the French space as thousands separator (``142 000`` /mm3, also U+00A0, U+202F): read
  as the Swiss apostrophe is, values and ranges; ``1 5``, ``12 34`` stay refused.
- F3: an enzyme unit with its measurement temperature (``U/l 37°C``): U/L, kept as written.
- F4: haemoglobin in all-caps ``G/L`` (UK Telepath): gram per litre, never giga.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analytes import UnitConversion, resolve_unit
from services.lab_ingestion.domain.measured_values import parse_value
from services.lab_ingestion.domain.model import (
    Coding,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import normalise, parse_reference_range
from services.lab_ingestion.domain.unit_spellings import capitals_readings, recognise_unit
from services.lab_ingestion.domain.unobtained import holds_no_value, says_not_obtained
from shared.contracts.events.lab import Analyte

COLLECTED = datetime(2026, 11, 20, 8, tzinfo=UTC) - timedelta(hours=1)

NEW_WORDINGS = (
    "Ininterprétable", "ininterpretable", "Non réalisable", "non realisable",
    "Prélèvement non conforme", "prelevement non conforme", "Non valutabile",
    "Non eseguibile", "Vedi referto", "entfällt", "entfaellt", "kein Material", "Gerinnsel",
    "volgt", "niet bepaald", "zie opmerking", "zie opm.", "zie opm", "ej utfört", "ej utfort",
    "Se kommentar",
)  # fmt: skip
# zero or undetectable counts, in these languages too: results (grade 4), refused
STILL_REFUSED = (
    "keine", "kein", "kein Nachweis", "keine Zellen", "none seen", "NONE SEEN", "nil", "0",
    "negativ", "niet aantoonbaar", "ej påvisbar", "non rilevabile", "non détectable",
    "kein Material 0", "volgt 0", "0 - zie opm.", "Gerinnsel 12", "entfällt keine",
    # below what the assay measures: an undetectable CRP, a finding (review 154)
    "Non dosable", "non dosable", "indosable", "Indosable",
)  # fmt: skip


@pytest.mark.parametrize("value", NEW_WORDINGS)
def test_the_wordings_of_review_152_say_not_obtained(value: str) -> None:
    for written in (value, value.upper(), value.lower(), f" {value.title()} "):
        assert says_not_obtained(written), written
    assert says_not_obtained(f"{value} - voir commentaire")


@pytest.mark.parametrize("value", STILL_REFUSED)
def test_zero_counts_and_numbers_never_say_not_obtained(value: str) -> None:
    assert not says_not_obtained(value)


def _observation(
    code: str, value: str, unit: str, reference: str | None = None
) -> ObservationInput:
    return ObservationInput(
        "K1", (Coding(code, "http://loinc.org"),), value, (unit,), reference_range=reference,
        collected_at=COLLECTED,
    )  # fmt: skip


def _normalised(code: str, value: str, unit: str, reference: str | None = None) -> NormalisedResult:
    result = normalise(_observation(code, value, unit, reference))
    assert isinstance(result, NormalisedResult), result
    return result


@pytest.mark.parametrize("space", [" ", "\u00a0", "\u202f"])
def test_french_platelets_per_mm3_with_a_space_between_thousands(space: str) -> None:
    result = _normalised("777-3", f"142{space}000", "/mm3", f"150{space}000-400{space}000")
    assert (result.value, result.unit, result.original_value) == (142.0, "10*9/L", f"142{space}000")
    assert (result.reference_low, result.reference_high) == (150.0, 400.0)
    anc = _normalised("751-8", "420", "/mm3", f"1{space}800-7{space}500")
    assert (anc.value, anc.reference_low, anc.reference_high) == (0.42, 1.8, 7.5)


@pytest.mark.parametrize(
    "written", ["1 5", "12 34", "1 2345", "0 123", "1,5 000", "1.5 000", "1 000\u00a0000",
                "142 0001", "1  000", "1 5 000", "1 000 00"],
)  # fmt: skip
def test_a_space_that_may_be_anything_else_stays_refused(written: str) -> None:
    value = parse_value(Analyte.PLATELETS, written)
    assert isinstance(value, Rejected) and value.code is RejectionCode.NON_NUMERIC_VALUE


_GROUPED = st.integers(min_value=1000, max_value=10**12)


@given(number=_GROUPED, space=st.sampled_from(" \u00a0\u202f'\u2019"), below=st.booleans())
def test_a_number_grouped_in_thousands_reads_as_the_number(
    number: int, space: str, below: bool
) -> None:
    written = f"{number:,}".replace(",", space)
    value = parse_value(Analyte.PLATELETS, f"<{written}" if below else written)
    assert not isinstance(value, Rejected) and value.number == number
    assert parse_reference_range(f"{written}-{written}") == (number, number)


@given(
    digits=st.text("0123456789", min_size=2, max_size=9).filter(lambda d: d[0] != "0"),
    at=st.integers(min_value=1, max_value=8),
    space=st.sampled_from(" \u00a0\u202f"),
)
def test_a_space_before_a_group_of_other_than_three_digits_is_refused(
    digits: str, at: int, space: str
) -> None:
    head, tail = digits[:at], digits[at:]
    if not tail or len(tail) == 3:
        return  # a group of three: the thousands separator (above)
    assert isinstance(parse_value(Analyte.PLATELETS, f"{head}{space}{tail}"), Rejected)


@pytest.mark.parametrize(
    "unit", ["U/l 37°C", "U/L (37°C)", "U/l(37°C)", "IU/L @37C", "U/L 37 °C", "U/L (37 C)",
             "UI/L 37\u2103", "\u00b5kat/L 37°C"],
)  # fmt: skip
def test_an_enzyme_unit_at_37_degrees_is_its_unit(unit: str) -> None:
    assert recognise_unit(unit) in {"U/L", "ukat/L"}
    result = _normalised("1742-6", "0,45" if "kat" in unit else "245", unit)
    assert (result.value, result.unit, result.original_unit) == (
        27.0 if "kat" in unit else 245.0, "U/L", unit,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "unit"),
    [("1742-6", "U/L (25°C)"), ("1742-6", "U/L 30°C"), ("1742-6", "U/L37°C"),
     ("1742-6", "U/L 137°C"), ("1988-5", "mg/L 37°C"), ("1742-6", "U/L (37°C")],
)  # fmt: skip
def test_another_temperature_or_unit_stays_refused(code: str, unit: str) -> None:
    result = normalise(_observation(code, "35", unit))
    assert isinstance(result, Rejected) and result.code is RejectionCode.UNCONVERTIBLE_UNIT


def test_haemoglobin_in_capitals_g_per_l_is_grams_and_counts_stay_giga() -> None:
    assert capitals_readings("G/L") == {"10*9/L", "g/L"}
    assert capitals_readings("g/l") == capitals_readings("G/l") == frozenset()
    haemoglobin = _normalised("718-7", "98", "G/L", "130-170")
    assert (haemoglobin.value, haemoglobin.unit, haemoglobin.original_unit) == (9.8, "g/dL", "G/L")
    assert (haemoglobin.reference_low, haemoglobin.reference_high) == (13.0, 17.0)
    for code in ("751-8", "777-3"):
        conversion = resolve_unit(Analyte.NEUTROPHILS if code == "751-8" else Analyte.PLATELETS,
                                  ("G/L",))  # fmt: skip
        assert isinstance(conversion, UnitConversion) and conversion.source_unit == "10*9/L"
    # lower case says gram: never a count
    refused = resolve_unit(Analyte.NEUTROPHILS, ("g/l",))
    assert isinstance(refused, Rejected)


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [(Analyte.CREATININE, "MMOL/L"), (Analyte.CRP, "UMOL/L"), (Analyte.HAEMOGLOBIN, "UMOL/L"),
     (Analyte.BILIRUBIN, "MMOL/L"), (Analyte.HAEMOGLOBIN, "GIGA/L"), (Analyte.CRP, "G/L")],
)  # fmt: skip
def test_capitals_never_confuse_milli_micro_nano_or_another_unit(
    analyte: Analyte, unit: str
) -> None:
    assert isinstance(resolve_unit(analyte, (unit,)), Rejected)


@pytest.mark.parametrize(
    ("flags", "not_obtained"),
    [((), True), (("L",), True), (("A",), True), (("W",), True), (("N",), True),
     (("LL",), False), (("HH",), False), (("<",), False), ((">",), False),
     (("A", "LL"), False), (("ll",), False),
     # critically abnormal (table 0078's very abnormal): judged, so measured (review 157)
     (("AA",), False), (("aa",), False), (("N", "AA"), False)],
)  # fmt: skip
def test_a_text_of_no_value_flagged_as_measured_is_no_value_left_out(
    flags: tuple[str, ...], not_obtained: bool
) -> None:
    """`volgt` (to follow) flagged LL says two things: refused so that the lab is told, never
    left out as nothing (review 154: a grade-4 ANC so flagged was dropped with AA); an
    analyser's warning (A, W) or a plain L beside clumped platelets leaves it not obtained."""
    observation = ObservationInput(
        result_key="ORD1^751-8^1", codes=(Coding("751-8", "LN"),), value="volgt",
        unit=("10*9/L",), abnormal_flag=flags[0] if flags else None, flags=flags,
        collected_at=COLLECTED,
    )  # fmt: skip
    assert holds_no_value(observation) is not_obtained
