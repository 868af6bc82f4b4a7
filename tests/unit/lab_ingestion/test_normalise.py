"""Lab normalisation: analyte identity, unit conversion and value parsing (PROTOCOL section 6)."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analyte_codes import LOINC_CODES, identify_analyte
from services.lab_ingestion.domain.analytes import (
    UnitParameters,
    accepted_units,
    canonical_unit,
    to_canonical,
)
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import normalise, parse_reference_range
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.plausibility import PLAUSIBILITY_CEILINGS
from services.lab_ingestion.domain.unit_spellings import UNIT_SPELLINGS, recognise_unit
from shared.contracts.events.lab import Analyte, Channel, Comparator

COLLECTED = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
LOINC_OF = {
    Analyte.CRP: "1988-5",
    Analyte.NEUTROPHILS: "751-8",
    Analyte.PLATELETS: "777-3",
    Analyte.HAEMOGLOBIN: "718-7",
    Analyte.ALT: "1742-6",
    Analyte.AST: "1920-8",
    Analyte.BILIRUBIN: "1975-2",
    Analyte.CREATININE: "2160-0",
}


def observation(
    analyte: Analyte = Analyte.CRP,
    value: str = "12.5",
    unit: tuple[str, ...] = ("mg/L",),
    *,
    reference_range: str | None = None,
    abnormal_flag: str | None = None,
    collected_at: datetime | None = COLLECTED,
    codes: tuple[Coding, ...] | None = None,
) -> ObservationInput:
    return ObservationInput(
        result_key="ORD1^1988-5^1",
        codes=codes if codes is not None else (Coding(LOINC_OF[analyte], "LN"),),
        value=value,
        unit=unit,
        reference_range=reference_range,
        abnormal_flag=abnormal_flag,
        collected_at=collected_at,
    )


def accepted(result: NormalisedResult | Rejected | None) -> NormalisedResult:
    assert isinstance(result, NormalisedResult), result
    return result


def rejected(result: NormalisedResult | Rejected | None, code: RejectionCode) -> Rejected:
    assert isinstance(result, Rejected), result
    assert result.code is code, result
    return result


# --- identity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loinc", "analyte"),
    [
        ("1988-5", Analyte.CRP),
        ("30522-7", Analyte.CRP),
        ("751-8", Analyte.NEUTROPHILS),
        ("26499-4", Analyte.NEUTROPHILS),
        ("777-3", Analyte.PLATELETS),
        ("26515-7", Analyte.PLATELETS),
        ("718-7", Analyte.HAEMOGLOBIN),
        ("1742-6", Analyte.ALT),
        ("1920-8", Analyte.AST),
        ("1975-2", Analyte.BILIRUBIN),
        ("2160-0", Analyte.CREATININE),
        ("14682-9", Analyte.CREATININE),
    ],
)
def test_every_protocol_loinc_code_identifies_its_analyte(loinc: str, analyte: Analyte) -> None:
    assert identify_analyte([Coding(loinc, "LN")]) == (analyte, loinc)
    result = accepted(
        normalise(observation(analyte, "1", (canonical_unit(analyte),), codes=(Coding(loinc),)))
    )
    assert (result.analyte, result.loinc) == (analyte, loinc)


def test_catalogue_holds_exactly_the_protocol_codes() -> None:
    assert len(LOINC_CODES) == 12
    assert set(LOINC_CODES.values()) == set(Analyte)


@pytest.mark.parametrize(
    "system",
    [
        *("LN", "ln", "LOINC", "loinc", "http://loinc.org", "HTTP://LOINC.ORG", None, "", " "),
        *("2.16.840.1.113883.6.1", "urn:oid:2.16.840.1.113883.6.1"),  # LOINC's OID, bare too
    ],
)
def test_loinc_like_systems_match(system: str | None) -> None:
    assert identify_analyte([Coding("1988-5", system)]) == (Analyte.CRP, "1988-5")


@pytest.mark.parametrize(
    "system",
    # CPT-4's and UCUM's OIDs begin as LOINC's does
    [
        "L",
        "99LAB",
        "http://snomed.info/sct",
        "LN2",
        "2.16.840.1.113883.6.12",
        "2.16.840.1.113883.6.8",
    ],
)
def test_a_loinc_looking_code_in_another_system_is_not_a_trial_analyte(system: str) -> None:
    assert identify_analyte([Coding("1988-5", system)]) is None
    assert normalise(observation(codes=(Coding("1988-5", system),))) is None


def test_the_loinc_coding_is_found_after_a_local_one() -> None:
    codes = (Coding("CRP", "99LAB", "C-reactive protein"), Coding(" 30522-7 ", "LN"))
    assert identify_analyte(codes) == (Analyte.CRP, "30522-7")


def test_an_unknown_loinc_code_is_ignored_not_rejected() -> None:
    assert normalise(observation(codes=(Coding("2345-7", "LN"),), unit=())) is None
    assert normalise(observation(codes=())) is None


# --- conversions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        (Analyte.CRP, "12.5", "mg/L", 12.5),
        (Analyte.CRP, "1.25", "mg/dL", 12.5),
        (Analyte.CRP, "95.24", "nmol/L", 10.0),
        (Analyte.NEUTROPHILS, "2.5", "10*9/L", 2.5),
        (Analyte.NEUTROPHILS, "2.5", "10*3/uL", 2.5),
        (Analyte.NEUTROPHILS, "2500", "/uL", 2.5),
        (Analyte.PLATELETS, "150", "10*9/L", 150.0),
        (Analyte.PLATELETS, "150", "10*3/uL", 150.0),
        (Analyte.PLATELETS, "150000", "/uL", 150.0),
        (Analyte.HAEMOGLOBIN, "13.5", "g/dL", 13.5),
        (Analyte.HAEMOGLOBIN, "135", "g/L", 13.5),
        (Analyte.HAEMOGLOBIN, "8.0", "mmol/L", 12.888),
        (Analyte.ALT, "40", "U/L", 40.0),
        (Analyte.ALT, "0.5", "ukat/L", 30.0),
        (Analyte.AST, "35", "U/L", 35.0),
        (Analyte.AST, "1.2", "ukat/L", 72.0),
        (Analyte.BILIRUBIN, "1.2", "mg/dL", 1.2),
        (Analyte.BILIRUBIN, "34.2", "umol/L", 2.0),
        (Analyte.CREATININE, "0.9", "mg/dL", 0.9),
        (Analyte.CREATININE, "176.8", "umol/L", 2.0),
    ],
)
def test_every_protocol_conversion(
    analyte: Analyte, value: str, unit: str, expected: float
) -> None:
    result = accepted(normalise(observation(analyte, value, (unit,))))
    assert result.value == pytest.approx(expected)
    assert result.unit == canonical_unit(analyte)
    assert (result.original_value, result.original_unit) == (value, unit)


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        (Analyte.CRP, "mg/L"),
        (Analyte.NEUTROPHILS, "10*9/L"),
        (Analyte.PLATELETS, "10*9/L"),
        (Analyte.HAEMOGLOBIN, "g/dL"),
        (Analyte.ALT, "U/L"),
        (Analyte.AST, "U/L"),
        (Analyte.BILIRUBIN, "mg/dL"),
        (Analyte.CREATININE, "mg/dL"),
    ],
)
def test_canonical_units(analyte: Analyte, unit: str) -> None:
    assert canonical_unit(analyte) == unit
    assert to_canonical(analyte, 7.0, (unit,)) == (7.0, unit)


def test_the_crp_nmol_factor_is_a_protocol_parameter() -> None:
    params = UnitParameters(crp_nmol_per_mg_l=10.0)
    converted = to_canonical(Analyte.CRP, 95.24, ("nmol/L",), params)
    assert isinstance(converted, tuple)
    assert converted[0] == pytest.approx(9.524)
    assert converted[1] == "mg/L"
    result = accepted(normalise(observation(value="50", unit=("nmol/L",)), params))
    assert result.value == pytest.approx(5.0)


@pytest.mark.parametrize("factor", [0.0, -9.524, float("nan"), float("inf")])
def test_a_nonsensical_crp_nmol_factor_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match="crp_nmol_per_mg_l"):
        UnitParameters(crp_nmol_per_mg_l=factor)


@pytest.mark.parametrize(
    ("analyte", "unit", "value", "expected"),
    [
        (Analyte.CRP, "mg/l", "5", 5.0),
        (Analyte.CRP, "MG/L", "5", 5.0),
        (Analyte.CRP, "mg/dl", "0.5", 5.0),
        (Analyte.CRP, "NMOL/L", "95.24", 10.0),
        (Analyte.NEUTROPHILS, "x10^9/L", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "10^9/L", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "x10E9/L", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "10E9/L", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "X10^9/L", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "\u00d7 10^9 /L", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "G/L", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "K/uL", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "K/UL", "2.5", 2.5),
        (Analyte.NEUTROPHILS, "cells/uL", "2500", 2.5),
        (Analyte.NEUTROPHILS, "/mm3", "2500", 2.5),
        (Analyte.NEUTROPHILS, "/\u00b5L", "2500", 2.5),
        (Analyte.PLATELETS, "10^3/uL", "150", 150.0),
        (Analyte.PLATELETS, "x10^3/uL", "150", 150.0),
        (Analyte.PLATELETS, "thou/uL", "150", 150.0),
        (Analyte.PLATELETS, "10*3/\u03bcL", "150", 150.0),
        (Analyte.PLATELETS, "/mm\u00b3", "150000", 150.0),
        (Analyte.HAEMOGLOBIN, "g/dl", "13.5", 13.5),
        (Analyte.HAEMOGLOBIN, "G/DL", "13.5", 13.5),
        (Analyte.HAEMOGLOBIN, "g/l", "135", 13.5),
        (Analyte.HAEMOGLOBIN, "MMOL/L", "8", 12.888),
        (Analyte.HAEMOGLOBIN, "mmol/l", "8", 12.888),
        (Analyte.ALT, "IU/L", "40", 40.0),
        (Analyte.ALT, "U/l", "40", 40.0),
        (Analyte.ALT, "\u00b5kat/L", "0.5", 30.0),
        (Analyte.AST, "\u03bckat/L", "0.5", 30.0),
        (Analyte.AST, "UKAT/L", "0.5", 30.0),
        (Analyte.BILIRUBIN, "\u00b5mol/L", "17.1", 1.0),
        (Analyte.BILIRUBIN, "\u03bcmol/L", "17.1", 1.0),
        (Analyte.BILIRUBIN, "umol/l", "17.1", 1.0),
        (Analyte.CREATININE, "UMOL/L", "88.4", 1.0),
        (Analyte.CREATININE, "\u00b5mol/l", "88.4", 1.0),
    ],
)
def test_local_spellings(analyte: Analyte, unit: str, value: str, expected: float) -> None:
    result = accepted(normalise(observation(analyte, value, (unit,))))
    assert result.value == pytest.approx(expected)
    assert result.original_unit == unit.strip()


def test_milli_micro_and_nano_moles_are_never_confused() -> None:
    assert recognise_unit("mmol/L") == recognise_unit("MMOL/L") == "mmol/L"
    assert recognise_unit("umol/L") == recognise_unit("\u00b5mol/L") == "umol/L"
    assert recognise_unit("UMOL/L") == recognise_unit("\u03bcMOL/L") == "umol/L"
    assert recognise_unit("nmol/L") == recognise_unit("NMOL/L") == "nmol/L"
    assert recognise_unit("Mmol/L") is None  # mega-mole: not a case variant of mmol
    assert recognise_unit("mMol/L") is None


def test_giga_and_gram_are_never_confused() -> None:
    assert recognise_unit("G/L") == "10*9/L"
    assert recognise_unit("g/L") == "g/L"
    # haemoglobin's all-caps G/L is gram per litre (UK systems write units in capitals;
    # review 152), never giga: a count per litre is no haemoglobin unit
    read = normalise(observation(Analyte.HAEMOGLOBIN, "135", ("G/L",)))
    assert isinstance(read, NormalisedResult) and (read.value, read.unit) == (13.5, "g/dL")
    for analyte, unit in ((Analyte.HAEMOGLOBIN, "Giga/L"), (Analyte.PLATELETS, "g/L")):
        rejected(normalise(observation(analyte, "150", (unit,))), RejectionCode.UNCONVERTIBLE_UNIT)


# PROTOCOL section 6, as documented: each analyte's units and their factor to its canonical
# unit (an independent copy of the conversions: the code's tables are checked against it)
DOCUMENTED_FACTORS: dict[Analyte, dict[str, float]] = {
    Analyte.CRP: {"mg/L": 1, "mg/dL": 10, "nmol/L": 1 / 9.524},
    Analyte.NEUTROPHILS: {"10*9/L": 1, "10*3/uL": 1, "/uL": 1 / 1000},
    Analyte.PLATELETS: {"10*9/L": 1, "10*3/uL": 1, "/uL": 1 / 1000},
    Analyte.HAEMOGLOBIN: {"g/dL": 1, "g/L": 1 / 10, "mmol/L": 1.611},
    Analyte.ALT: {"U/L": 1, "ukat/L": 60},
    Analyte.AST: {"U/L": 1, "ukat/L": 60},
    Analyte.BILIRUBIN: {"mg/dL": 1, "umol/L": 1 / 17.1},
    Analyte.CREATININE: {"mg/dL": 1, "umol/L": 1 / 88.4},
}
_MICRO_U = re.compile(r"(?<![^\W\d_])u")  # a lower-case u starting a unit: /uL, umol, ukat


def _spelling_variants() -> list[tuple[str, str]]:
    """(UCUM code, spelling) for every listed spelling as listed, in upper and in lower case
    (unless the fold is ambiguous: G/L is giga, g/L gram), each with its micro u also written
    as a micro sign and as a Greek mu (the rest of the text in its case)."""
    ucum_of_fold: dict[str, set[str]] = {}
    for ucum, spellings in UNIT_SPELLINGS.items():
        for spelling in (ucum, *spellings):
            ucum_of_fold.setdefault(spelling.lower(), set()).add(ucum)
    variants = []
    for ucum, spellings in UNIT_SPELLINGS.items():
        for spelling in (ucum, *spellings):
            micro = [m.start() for m in _MICRO_U.finditer(spelling)]
            for cased in dict.fromkeys((spelling, spelling.upper(), spelling.lower())):
                if cased != spelling and ucum_of_fold[cased.lower()] != {ucum}:
                    continue
                for sign in ("u", "\u00b5", "\u03bc") if micro else ("u",):
                    chars = list(cased)
                    for index in micro if sign != "u" else ():
                        chars[index] = sign
                    variants.append((ucum, "".join(chars)))
    return list(dict.fromkeys(variants))  # a micro sign's variants coincide in either case


@pytest.mark.parametrize(
    ("analyte", "ucum", "spelling"),
    [
        (analyte, ucum, spelling)
        for analyte, factors in DOCUMENTED_FACTORS.items()
        for ucum, spelling in _spelling_variants()
        if ucum in factors
    ],
)
def test_every_listed_spelling_in_either_case_and_micro_sign_converts_by_its_factor(
    analyte: Analyte, ucum: str, spelling: str
) -> None:
    assert recognise_unit(spelling) == ucum
    # no platelet count measured is below 1000 /uL, no haemoglobin below 0.5 g/dL, no
    # creatinine below 0.1 mg/dL (8.84 umol/L)
    count = 2000 if ucum == "/uL" else 20 if ucum in {"g/L", "umol/L"} else 2
    result = accepted(normalise(observation(analyte, str(count), (spelling,))))
    assert result.value == pytest.approx(count * DOCUMENTED_FACTORS[analyte][ucum], rel=1e-12)
    assert result.unit == canonical_unit(analyte)


def test_the_documented_units_are_the_accepted_ones_and_every_spelling_is_of_one() -> None:
    for analyte, factors in DOCUMENTED_FACTORS.items():
        assert set(accepted_units(analyte)) == set(factors), analyte
    assert set(UNIT_SPELLINGS) == {u for factors in DOCUMENTED_FACTORS.values() for u in factors}


@pytest.mark.parametrize("unit", ["\u00b5/L", "\u03bc/L", "\u00b5/l", "\u03bc/l", "\u00b5 / L"])
@pytest.mark.parametrize("analyte", [Analyte.ALT, Analyte.AST])
def test_a_micro_sign_alone_is_no_enzyme_unit(unit: str, analyte: Analyte) -> None:
    """The micro sign was read as the U of units: ALT 0.8 µ/L accepted as 0.8 U/L. A micro
    sign before nothing but the litre names no unit the platform converts."""
    assert recognise_unit(unit) is None
    rejected(normalise(observation(analyte, "0.8", (unit,))), RejectionCode.UNCONVERTIBLE_UNIT)


@pytest.mark.parametrize(
    ("analyte", "components", "expected", "original_unit"),
    [
        (Analyte.CREATININE, ("", "\u00b5mol/L", "L"), 1.0, "\u00b5mol/L"),
        (Analyte.CREATININE, ("CREA-U", "micromoles per litre", "umol/L"), 1.0, "umol/L"),
        (Analyte.PLATELETS, ("PLTU", "K/uL", "ISO+"), 88.4, "K/uL"),
        (Analyte.CRP, ("mg/dL", "mg/dL", "UCUM"), 884.0, "mg/dL"),
        (Analyte.PLATELETS, ("10*9/L", "10^3/uL"), 88.4, "10*9/L"),  # the same factor
    ],
)
def test_the_unit_may_be_in_any_obx6_component(
    analyte: Analyte, components: tuple[str, ...], expected: float, original_unit: str
) -> None:
    result = accepted(normalise(observation(analyte, "88.4", components)))
    assert result.value == pytest.approx(expected)
    assert result.original_unit == original_unit


@pytest.mark.parametrize(
    ("analyte", "components"),
    [
        (Analyte.CREATININE, ("mg/dL", "umol/L")),  # 88.4 apart
        (Analyte.CRP, ("mg/dL", "mg/L", "UCUM")),  # a FHIR code and unit that disagree
        (Analyte.HAEMOGLOBIN, ("g/L", "", "", "g/dL")),
        # a known unit this analyte is never reported in, beside one it is: not passed over
        (Analyte.CREATININE, ("mg/L", "mg/dL")),  # a FHIR code and display: 0.9 read as 9
        (Analyte.CRP, ("U/L", "mg/L")),
        (Analyte.PLATELETS, ("10*9/L", "g/L")),
    ],
)
def test_components_naming_units_that_disagree_are_rejected_not_chosen_between(
    analyte: Analyte, components: tuple[str, ...]
) -> None:
    result = normalise(observation(analyte, "12", components))
    rejected(result, RejectionCode.UNCONVERTIBLE_UNIT)
    assert isinstance(result, Rejected) and "disagree" in result.reason


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [("250.000", "/uL", None), ("1.500", "cells/uL", None), ("+2.100", "/mm3", None),
     ("2100", "/uL", 2.1), ("2.100", "10*3/uL", None), ("2.1", "10*3/uL", 2.1)],
)  # fmt: skip
def test_a_dot_before_three_digits_of_a_count_per_microlitre_is_ambiguous(
    value: str, unit: str, expected: float | None
) -> None:
    """German labs write 250.000/µl for 250,000: read as a decimal, 0.25 x10^9/L is grade 4.
    So in thousands per microlitre: no analyser reports platelets to thousandths, and 2,100
    x10^3/uL is a possible count, so ``2.100`` may be either (it was read as 2.1)."""
    result = normalise(observation(Analyte.PLATELETS, value, (unit,)))
    if expected is None:
        rejected(result, RejectionCode.NON_NUMERIC_VALUE)
    else:
        assert accepted(result).value == pytest.approx(expected)


@pytest.mark.parametrize("unit", ["/uL", "cells/uL", "/mm3", "/\u00b5L", "CELLS/\u03bcL"])
@pytest.mark.parametrize("value", ["1.5", "0.8", "1,5", "250.5", "0.05", "250.0"])
@pytest.mark.parametrize("analyte", [Analyte.NEUTROPHILS, Analyte.PLATELETS])
def test_a_count_per_microlitre_with_decimals_is_rejected_never_read_as_cells(
    analyte: Analyte, value: str, unit: str
) -> None:
    """Cells are counted whole: a decimal there is a unit mislabelled (1.5 x10^3/uL, grade 1).
    Read as cells, neutrophils 1.5 /uL were 0.0015 x10^9/L: grade-4 neutropenia, a dose held
    (PROTOCOL section 4). The reason quotes the lab number and says what to check."""
    result = rejected(
        normalise(observation(analyte, value, (unit,))), RejectionCode.IMPLAUSIBLE_VALUE
    )
    assert f"value {value!r} per microlitre has decimals" in result.reason
    assert "check the unit" in result.reason
    assert accepted(normalise(observation(analyte, value, ("10*3/uL",)))).value == float(
        value.replace(",", ".")
    )  # the same number in thousands per microlitre is read


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        (Analyte.CRP, "U/L"),
        (Analyte.CRP, "g/L"),
        (Analyte.PLATELETS, "mg/dL"),
        (Analyte.NEUTROPHILS, "%"),
        (Analyte.HAEMOGLOBIN, "Mmol/L"),
        (Analyte.HAEMOGLOBIN, "mg/dL"),
        (Analyte.CREATININE, "mmol/L"),
        (Analyte.BILIRUBIN, "nmol/L"),
        (Analyte.ALT, "nkat/L"),
        (Analyte.AST, "umol/L"),
        (Analyte.CRP, "mg/L of something"),
    ],
)
def test_an_unconvertible_unit_is_rejected_not_guessed(analyte: Analyte, unit: str) -> None:
    result = rejected(
        normalise(observation(analyte, "1", ("", unit))), RejectionCode.UNCONVERTIBLE_UNIT
    )
    length = "(text of 17 characters, not a known unit)"
    shown = repr(unit) if unit != "mg/L of something" else length
    assert shown in result.reason
    assert analyte.value in result.reason
    assert to_canonical(analyte, 1.0, (unit,)) == result


@pytest.mark.parametrize("components", [(), ("",), ("", "  ", "\t")])
def test_a_missing_unit_is_rejected(components: tuple[str, ...]) -> None:
    result = rejected(
        normalise(observation(Analyte.PLATELETS, "150", components)), RejectionCode.MISSING_UNIT
    )
    assert "platelets" in result.reason


def test_a_long_unit_is_named_but_bounded_in_the_reason() -> None:
    result = rejected(normalise(observation(unit=("x" * 500,))), RejectionCode.UNCONVERTIBLE_UNIT)
    assert len(result.reason) < 120


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", 12.5),
        (" 12 ", 12.0),
        ("0", 0.0),
        (".5", 0.5),
        ("-0", 0.0),
        ("+3.25", 3.25),
        ("12,5", 12.5),
    ],
)
def test_numeric_values(value: str, expected: float) -> None:
    result = accepted(normalise(observation(value=value)))
    assert result.value == pytest.approx(expected)
    assert math.copysign(1.0, result.value) == 1.0  # never -0.0 ("-0" is 0)
    assert result.original_value == value.strip()


@pytest.mark.parametrize(
    ("analyte", "value", "limit", "comparator"),
    [
        (Analyte.CRP, "<10", 10.0, Comparator.BELOW),
        (Analyte.CRP, "< 5", 5.0, Comparator.BELOW),
        (Analyte.CRP, ">200", 200.0, Comparator.ABOVE),
        (Analyte.CRP, "<=5", 5.0, Comparator.AT_MOST),
        (Analyte.CRP, ">= 10.5", 10.5, Comparator.AT_LEAST),
        (Analyte.CRP, "\u226410", 10.0, Comparator.AT_MOST),
        (Analyte.CRP, "\u2265 10", 10.0, Comparator.AT_LEAST),
        (Analyte.NEUTROPHILS, "<0,5", 0.5, Comparator.BELOW),
    ],
)
def test_censored_values_are_published_as_a_limit_never_as_a_measurement(
    analyte: Analyte, value: str, limit: float, comparator: Comparator
) -> None:
    """``<10`` read as 10 is no CRP response (it is < 10), ``<0.5`` neutrophils read as 0.5
    grades 3 instead of 4: a limit is published with its comparator, and the text as sent."""
    unit = ("mg/L",) if analyte is Analyte.CRP else ("10*9/L",)
    result = accepted(normalise(observation(analyte, value, unit)))
    assert (result.value, result.comparator) == (limit, comparator)
    assert result.original_value == value


def test_a_measured_value_has_no_comparator() -> None:
    assert accepted(normalise(observation(Analyte.CRP, "12", ("mg/L",)))).comparator is None


@pytest.mark.parametrize("value", ["-2", "-0.1", "- 3"])
def test_negative_values_are_rejected(value: str) -> None:
    result = normalise(observation(Analyte.PLATELETS, value, ("10*9/L",)))
    assert isinstance(result, Rejected)
    assert result.code in {RejectionCode.IMPLAUSIBLE_VALUE, RejectionCode.NON_NUMERIC_VALUE}


# the product's plausibility ceilings, in the canonical unit (an independent copy)
CEILINGS = {
    Analyte.CRP: "1000", Analyte.NEUTROPHILS: "500", Analyte.PLATELETS: "5000",
    Analyte.HAEMOGLOBIN: "30", Analyte.ALT: "100000", Analyte.AST: "100000",
    Analyte.BILIRUBIN: "100", Analyte.CREATININE: "50",
}  # fmt: skip


def test_every_analyte_has_its_plausibility_ceiling() -> None:
    assert {a: float(c) for a, c in CEILINGS.items()} == PLAUSIBILITY_CEILINGS


@pytest.mark.parametrize(("analyte", "ceiling"), CEILINGS.items())
def test_a_value_above_any_human_value_is_rejected_at_its_ceiling_not_below(
    analyte: Analyte, ceiling: str
) -> None:
    unit = (canonical_unit(analyte),)
    assert accepted(normalise(observation(analyte, ceiling, unit))).value == float(ceiling)
    result = rejected(
        normalise(observation(analyte, f"{ceiling}.1", unit)), RejectionCode.IMPLAUSIBLE_VALUE
    )
    assert result.reason == (  # the value is not quoted: it may be a birth date (review 125)
        f"{analyte.value} value is above any human value ({ceiling} {unit[0]}): "
        "check the unit and the decimal point"
    )


@pytest.mark.parametrize(
    ("value", "unit", "canonical"),
    [
        ("1.200", "g/L", "0.12"),  # a thousands dot read as a decimal point: 1200 g/L is no Hb
        ("4", "g/L", "0.4"),
        ("0.25", "mmol/L", "0.402750"),
        ("0", "g/dL", "0"),
        ("0.49", "g/dL", "0.49"),
    ],
)
def test_haemoglobin_below_any_living_patient_is_rejected(
    value: str, unit: str, canonical: str
) -> None:
    """Accepted before: haemoglobin `1.200` g/L was stored as 0.12 g/dL, grade-3 anaemia
    (PROTOCOL section 5), a dose held on a slip. Survivors have had about 0.7 g/dL at the
    lowest: below 0.5 g/dL it is no result."""
    result = rejected(
        normalise(observation(Analyte.HAEMOGLOBIN, value, (unit,))),
        RejectionCode.IMPLAUSIBLE_VALUE,
    )
    assert float(canonical) < 0.5
    assert result.reason == (
        "haemoglobin value is below any human value (0.5 g/dL): "
        "check the unit and the decimal point"
    )


@pytest.mark.parametrize(
    ("value", "unit", "expected"), [("0.5", "g/dL", 0.5), ("0.7", "g/dL", 0.7), ("5", "g/L", 0.5)]
)
def test_the_lowest_haemoglobin_a_patient_may_have_is_kept(
    value: str, unit: str, expected: float
) -> None:
    result = accepted(normalise(observation(Analyte.HAEMOGLOBIN, value, (unit,))))
    assert result.value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("analyte", "value", "unit"),
    [
        (Analyte.NEUTROPHILS, "1500", "x10^9/L"),  # a count per microlitre, labelled x10^9/L
        (Analyte.PLATELETS, "250000", "10*3/uL"),
        (Analyte.PLATELETS, "6000000", "/uL"),
        (Analyte.CRP, "125", "mg/dL"),  # 12.5 mg/L with its decimal point lost and in mg/dL
        (Analyte.CRP, "12500", "nmol/L"),
        (Analyte.HAEMOGLOBIN, "135", "g/dL"),  # g/L labelled g/dL
        (Analyte.HAEMOGLOBIN, "90", "mmol/L"),
        (Analyte.ALT, "2000", "ukat/L"),
        (Analyte.BILIRUBIN, "1800", "umol/L"),
        (Analyte.CREATININE, "88", "mg/dL"),  # umol/L labelled mg/dL
        (Analyte.CREATININE, "4500", "umol/L"),
    ],
)
def test_a_unit_or_decimal_slip_beyond_any_human_value_is_rejected(
    analyte: Analyte, value: str, unit: str
) -> None:
    """Accepted before: neutrophils 1500 x10^9/L, a count per microlitre mislabelled, were
    published as such. Whatever the unit sent, the converted value is checked."""
    result = rejected(
        normalise(observation(analyte, value, (unit,))), RejectionCode.IMPLAUSIBLE_VALUE
    )
    assert (
        result.reason.startswith(f"{analyte.value} ") and "above any human value" in result.reason
    )


@pytest.mark.parametrize(
    ("analyte", "value", "unit"),
    [
        (Analyte.CRP, "600", "mg/L"),
        (Analyte.NEUTROPHILS, "250", "x10^9/L"),  # hyperleukocytosis
        (Analyte.PLATELETS, "3500", "10^9/L"),  # thrombocythaemia
        (Analyte.PLATELETS, "3500000", "/uL"),
        (Analyte.HAEMOGLOBIN, "25", "g/dL"),
        (Analyte.HAEMOGLOBIN, "250", "g/L"),
        (Analyte.ALT, "40000", "U/L"),  # ischaemic or toxic hepatitis
        (Analyte.AST, "800", "ukat/L"),
        (Analyte.BILIRUBIN, "1000", "umol/L"),
        (Analyte.CREATININE, "3500", "umol/L"),
    ],
)
def test_a_genuine_extreme_is_accepted(analyte: Analyte, value: str, unit: str) -> None:
    accepted(normalise(observation(analyte, value, (unit,))))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "POS",
        "see comment",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "1e2",
        "1E-2",
        "12.5.1",
        "1,2,3",
        "12,5.0",
        "1.234,5",
        "12.5 mg/L",
        "5-10",
        "=5",
        "<>5",
        "\u0661\u0662",  # Arabic-Indic digits
        "1" * 40,
    ],
)
def test_non_numeric_values_are_rejected(value: str) -> None:
    result = rejected(normalise(observation(value=value)), RejectionCode.NON_NUMERIC_VALUE)
    assert "crp" in result.reason


def test_a_comma_before_three_digits_may_be_a_thousands_separator_so_is_rejected() -> None:
    result = rejected(
        normalise(observation(Analyte.NEUTROPHILS, "1,500", ("/uL",))),
        RejectionCode.NON_NUMERIC_VALUE,
    )
    assert "thousands" in result.reason


def test_free_text_values_are_not_echoed_in_the_reason() -> None:
    result = rejected(
        normalise(observation(value="called to Dr Smith re Jane Doe")),
        RejectionCode.NON_NUMERIC_VALUE,
    )
    assert "Smith" not in result.reason
    assert "Doe" not in result.reason


def test_missing_collection_time_is_rejected() -> None:
    result = rejected(
        normalise(observation(collected_at=None)), RejectionCode.MISSING_COLLECTION_TIME
    )
    assert "crp" in result.reason


@pytest.mark.parametrize("analyte", [Analyte.CRP, Analyte.NEUTROPHILS])
def test_a_result_whose_collection_times_disagree_is_refused(analyte: Analyte) -> None:
    """The adapters mark OBX-14 or OBR-7 against SPM-17 (FHIR: effective against the
    Specimen's collection) that disagree; the result is placed at neither (a dosing window,
    the 72-hour CRP window), refused with the adapter's words (review 146: dropping this
    check survived every unit test)."""
    conflict = "the collection time in OBX-14 is not the specimen's (SPM-17)"
    value, unit = ("12.5", ("mg/L",)) if analyte is Analyte.CRP else ("1.2", ("10*9/L",))
    sent = dataclasses.replace(observation(analyte, value, unit), time_conflict=conflict)
    result = rejected(normalise(sent), RejectionCode.IMPLAUSIBLE_TIME)
    assert conflict in result.reason
    accepted(normalise(observation(analyte, value, unit)))  # the same without the conflict


@pytest.mark.parametrize(
    ("value", "flag", "expected"),
    [("12.5", " H ", "H"), ("0.5", "LL", "LL"), ("12.5", "", None), ("12.5", None, None)],
)
def test_abnormal_flag_is_passed_through(
    value: str, flag: str | None, expected: str | None
) -> None:
    # (a low flag on CRP 12.5 mg/L, above every laboratory's LLN, is refused: unit_slips)
    result = accepted(normalise(observation(value=value, abnormal_flag=flag)))
    assert result.abnormal_flag == expected


# --- reference ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.5-5.0", (3.5, 5.0)),
        ("3.5 - 5.0", (3.5, 5.0)),
        (" 0-5 ", (0.0, 5.0)),
        ("0-5 mg/L", (0.0, 5.0)),
        ("0-5mg/L", (0.0, 5.0)),
        ("150-400 10^9/L", (150.0, 400.0)),
        ("3.5\u20135.0", (3.5, 5.0)),
        ("3,5-5,0", (3.5, 5.0)),
        ("-2-2", (-2.0, 2.0)),
        ("-2 - 2", (-2.0, 2.0)),
        ("-5--1", (-5.0, -1.0)),
        ("<5", (None, 5.0)),
        ("<= 5 mg/L", (None, 5.0)),
        (">60", (60.0, None)),
        ("> 60 mL/min", (60.0, None)),
        (None, (None, None)),
        ("", (None, None)),
        ("normal", (None, None)),
        ("see report", (None, None)),
        ("5", (None, None)),
        ("5-3", (None, None)),
        ("3.5-5.0-7.0", (None, None)),
        ("1-2 3", (None, None)),
        ("1-2e3", (None, None)),
        ("1,500-4,000", (None, None)),
        ("NaN-inf", (None, None)),
    ],
)
def test_reference_ranges(text: str | None, expected: tuple[float | None, float | None]) -> None:
    assert parse_reference_range(text) == expected
    result = accepted(normalise(observation(reference_range=text)))
    if text in ("150-400 10^9/L", "> 60 mL/min"):  # a count's unit, or one unknown: dropped
        expected = (None, None)
    if text in ("-2-2", "-2 - 2", "-5--1", ">60"):  # read, but no CRP range: dropped
        expected = (None, None)
    assert (result.reference_low, result.reference_high) == expected


@pytest.mark.parametrize(
    ("value", "unit", "reference_range", "expected"),
    [
        ("1.5", "mg/dL", "0-5 mg/L", (0.0, 5.0)),  # the range in its own unit
        ("1.5", "mg/dL", "0-0.5 mg/dL", (0.0, 5.0)),
        ("1.5", "mg/dL", "0-0.5", (0.0, 5.0)),  # no unit: the value's
        ("15", "mg/L", "<0.5 mg/dL", (None, 5.0)),
        ("15", "mg/L", "0-5 g/L", (None, None)),  # not a CRP unit: dropped, never misread
        ("1.5", "mg/dL", "0-5 mg/L (adult)", (0.0, 5.0)),  # its unit, then a note
        ("15", "mg/L", "0-0.5 (mg/dL)", (0.0, 5.0)),
        ("15", "mg/L", "0-5 (adult)", (None, None)),  # a note, no unit: the unit is unknown
    ],
)
def test_a_reference_range_in_its_own_unit_is_converted_by_that_unit(
    value: str, unit: str, reference_range: str, expected: tuple[float | None, float | None]
) -> None:
    result = accepted(
        normalise(observation(value=value, unit=(unit,), reference_range=reference_range))
    )
    assert result.reference_low == pytest.approx(expected[0])
    assert result.reference_high == pytest.approx(expected[1])


def test_haemoglobin_range_in_g_dl_next_to_a_value_in_mmol_l() -> None:
    result = accepted(
        normalise(
            observation(Analyte.HAEMOGLOBIN, "7.5", ("mmol/L",), reference_range="11.5-16.0 g/dL")
        )
    )
    assert result.value == pytest.approx(7.5 * 1.611)
    assert (result.reference_low, result.reference_high) == (11.5, 16.0)


def test_reference_range_is_converted_with_the_value() -> None:
    result = accepted(
        normalise(observation(Analyte.CREATININE, "106", ("umol/L",), reference_range="53-106"))
    )
    assert result.reference_low == pytest.approx(53 / 88.4)
    assert result.reference_high == pytest.approx(106 / 88.4)
    assert result.value == pytest.approx(result.reference_high)
    crp = accepted(normalise(observation(value="0.3", unit=("mg/dL",), reference_range="<0.5")))
    assert crp.reference_low is None
    assert crp.reference_high == pytest.approx(5.0)


# --- properties -----------------------------------------------------------------------------

KNOWN_UNITS = sorted({u for a in Analyte for u in accepted_units(a)} | {"G/L", "K/uL", "Mmol/L"})
lab_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(KNOWN_UNITS),
    st.from_regex(r"[<>=\u2264 ]{0,2}[+-]?[0-9]{0,6}[.,]?[0-9]{0,4}", fullmatch=True),
    st.from_regex(r"-?[0-9]{1,4}([.,][0-9]{1,3})? ?[-\u2013] ?-?[0-9]{1,4}.{0,6}", fullmatch=True),
)


@given(
    loinc=st.sampled_from([*LOINC_CODES, "2345-7"]),
    value=lab_text,
    unit=st.lists(lab_text, max_size=4).map(tuple),
    reference_range=st.none() | lab_text,
    flag=st.none() | st.text(max_size=5),
    collected=st.booleans(),
)
def test_normalise_never_raises(
    loinc: str,
    value: str,
    unit: tuple[str, ...],
    reference_range: str | None,
    flag: str | None,
    collected: bool,
) -> None:
    item = ObservationInput(
        result_key="k",
        codes=(Coding(loinc, "LN"),),
        value=value,
        unit=unit,
        reference_range=reference_range,
        abnormal_flag=flag,
        collected_at=COLLECTED if collected else None,
    )
    result = normalise(item)
    assert result is None or isinstance(result, NormalisedResult | Rejected)
    if isinstance(result, NormalisedResult):
        assert result.unit == canonical_unit(result.analyte)


analyte_and_unit = st.sampled_from([(a, u) for a in Analyte for u in accepted_units(a)])
magnitudes = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)


@given(analyte_and_unit=analyte_and_unit, value=magnitudes, k=st.floats(1e-3, 1e3))
def test_conversion_is_linear(
    analyte_and_unit: tuple[Analyte, str], value: float, k: float
) -> None:
    analyte, unit = analyte_and_unit
    base = to_canonical(analyte, value, (unit,))
    scaled = to_canonical(analyte, value * k, (unit,))
    assert isinstance(base, tuple)
    assert isinstance(scaled, tuple)
    assert scaled[0] == pytest.approx(k * base[0], rel=1e-9)
    assert scaled[1] == base[1] == canonical_unit(analyte)


@given(analyte=st.sampled_from(list(Analyte)), value=st.floats(-1e9, 1e9))
def test_the_canonical_unit_converts_with_factor_one(analyte: Analyte, value: float) -> None:
    assert to_canonical(analyte, value, (canonical_unit(analyte),)) == (
        value,
        canonical_unit(analyte),
    )


@pytest.mark.parametrize(
    ("unit", "status"), [(("DOE", "JOHN"), "F"), (("mg/L",), "F DOE JOHN 19580214")]
)
def test_a_reason_never_quotes_a_unit_or_status_that_may_be_a_name(
    unit: tuple[str, ...], status: str
) -> None:
    """A reason is stored, published and sent back: a sender's text there is quoted only
    when it has the shape of a unit or a status code, else described by its length."""
    single = dataclasses.replace(observation(unit=unit), status=status)
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "C-1", "MRN1", (single,))
    planned = plan_results(message, UnitParameters(), COLLECTED)
    assert isinstance(planned, Rejected)
    assert "DOE" not in planned.reason and "19580214" not in planned.reason
    assert "characters" in planned.reason


@pytest.mark.parametrize(
    "reference_range",
    ["150.000-400.000", "1.500 - 7.000 /uL", "<400.000", "150-400.5", "1,5-4,0", ">1.5"],
)
def test_a_per_microlitre_range_with_decimals_is_dropped_never_misread(
    reference_range: str,
) -> None:
    """As the value: 150.000 per microlitre is 150 thousand, or 150 with decimals; 1.5-4.0
    is a range in another unit (a count per microlitre has no decimals)."""
    result = normalise(
        observation(Analyte.PLATELETS, "250000", ("/uL",), reference_range=reference_range)
    )
    assert isinstance(result, NormalisedResult)
    assert (result.reference_low, result.reference_high) == (None, None)
    readable = normalise(
        observation(Analyte.PLATELETS, "250000", ("/uL",), reference_range="150000-400000")
    )
    assert isinstance(readable, NormalisedResult)
    assert (readable.reference_low, readable.reference_high) == (150.0, 400.0)


@given(
    hundredths=st.integers(0, 10**4),  # up to 100.00: 1000 mg/L, CRP's plausibility ceiling
    unit_factor=st.sampled_from([(Analyte.CRP, "mg/dL", 10), (Analyte.ALT, "ukat/L", 60)]),
)
def test_a_result_converted_exactly_is_the_value_sent_in_the_canonical_unit(
    hundredths: int, unit_factor: tuple[Analyte, str, int]
) -> None:
    """1.12 mg/dL is 11.2 mg/L, the very float "11.2" reads as (binary arithmetic gave
    11.200000000000001: another value than the same result sent in mg/L)."""
    analyte, unit, factor = unit_factor
    sent = f"{hundredths // 100}.{hundredths % 100:02d}"
    canonical = f"{hundredths * factor // 100}.{hundredths * factor % 100:02d}"
    converted = accepted(normalise(observation(analyte, sent, (unit,))))
    direct = accepted(normalise(observation(analyte, canonical, (canonical_unit(analyte),))))
    assert converted.value == direct.value == float(canonical)


def test_known_conversions_carry_no_binary_float_noise() -> None:
    examples = [
        (Analyte.CRP, "1.12", "mg/dL", 11.2),
        (Analyte.ALT, "0.09", "ukat/L", 5.4),
    ]
    for analyte, value, unit, expected in examples:
        assert accepted(normalise(observation(analyte, value, (unit,)))).value == expected
