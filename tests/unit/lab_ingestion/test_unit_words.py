"""A unit written out in words beside the coded unit is the unit it names, never passed over.

OBX-6's text (or a FHIR Quantity's unit display) written in words was passed over as a
description, so the coded unit won even where the words named another: ``718-7 | 13.5 |
g/L^grams per deciliter^L`` stored 1.35 g/dL (a life-threatening anaemia grade), ``751-8 |
8 | 10*9/L^percent^L`` published a neutrophil percentage as a count, ``1742-6 | 0.9 |
U/L^microkatal per liter^L`` 0.9 U/L (54 U/L measured), ``1988-5 | 1.2 | mg/L^milligrams
per deciliter^L`` 1.2 mg/L (12 mg/L measured). Words that name the coded unit are read; a
unit's words that cannot be read whole are refused, never guessed; text holding no unit's
word is passed over as before.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.analytes import UnitConversion, accepted_units, resolve_unit
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.unit_words import units_named
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.fhir_samples import lab_observation
from tests.unit.lab_ingestion.hl7_samples import (
    assert_stored_as,
    described,
    one_result_oru,
    planned,
)

UCUM = "http://unitsofmeasure.org"

# the findings: (OBX-3, value, OBX-6, the unit the words name as the reason shows it)
FINDINGS = [
    ("718-7^Hb^LN", "13.5", "g/L^grams per deciliter^L", "'g/L' beside words naming 'g/dL'"),
    ("751-8^ANC^LN", "8", "10*9/L^percent^L", "'10*9/L' beside words naming '%'"),
    ("1742-6^ALT^LN", "0.9", "U/L^microkatal per liter^L", "'U/L' beside words naming 'ukat/L'"),
    ("1988-5^CRP^LN", "1.2", "mg/L^milligrams per deciliter^L", "beside words naming 'mg/dL'"),
]


@pytest.mark.parametrize(("obx3", "value", "obx6", "named"), FINDINGS)
def test_words_naming_another_unit_than_the_code_are_refused(
    obx3: str, value: str, obx6: str, named: str
) -> None:
    result = planned(one_result_oru(obx3, value, obx6))
    assert isinstance(result, Rejected), described(result)
    assert result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert named in result.reason and "disagree" in result.reason, result.reason


@pytest.mark.parametrize(("obx3", "value", "obx6", "named"), FINDINGS)
def test_a_fhir_display_in_words_naming_another_unit_is_refused(
    obx3: str, value: str, obx6: str, named: str
) -> None:
    code, display, _ = obx6.split("^")
    quantity = {"value": float(value), "unit": display, "system": UCUM, "code": code}
    resource = lab_observation("OBS-94", obx3.partition("^")[0], valueQuantity=quantity)
    decoded = json.loads(json.dumps(resource), parse_float=decimal.Decimal)
    result = planned(parse_observation(decoded, "LIS", "HOSP"))
    assert isinstance(result, Rejected), described(result)
    assert result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert named in result.reason, result.reason


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "stored"),
    [
        ("1988-5^CRP^LN", "1.2", "mg/L^milligram per liter^L", (1.2, "mg/L")),
        ("1988-5^CRP^LN", "1.2", "mg/dL^milligrams per decilitre^L", (12.0, "mg/L")),
        ("718-7^Hb^LN", "13.5", "g/dL^grams per deciliter^L", (13.5, "g/dL")),
        ("718-7^Hb^LN", "135", "g/L^gram per litre^UCUM", (13.5, "g/dL")),
        ("1742-6^ALT^LN", "0.9", "ukat/L^microkatal per liter^L", (54.0, "U/L")),
        ("1742-6^ALT^LN", "41", "U/L^International Units per Litre^L", (41.0, "U/L")),
        ("751-8^ANC^LN", "2.1", "10*9/L^billion per litre^L", (2.1, "10*9/L")),
        ("751-8^ANC^LN", "2.1", "10*3/uL^thousand per microliter^L", (2.1, "10*9/L")),
        ("777-3^PLT^LN", "210", "10*9/L^10*9 cells per litre^L", (210.0, "10*9/L")),
        ("777-3^PLT^LN", "210", "10*3/uL^thousands per cubic millimetre^L", (210.0, "10*9/L")),
        ("751-8^ANC^LN", "2100", "/uL^cells per microlitre^L", (2.1, "10*9/L")),
        ("1975-2^BILI^LN", "17.1", "umol/L^micromoles per litre^L", (1.0, "mg/dL")),
        ("2160-0^CREA^LN", "88.4", "umol/L^MICROMOL PER LITER^L", (1.0, "mg/dL")),
        ("718-7^Hb^LN", "8.1", "mmol/L^millimoles per litre^L", (13.0491, "g/dL")),
        ("1988-5^CRP^LN", "95.24", "nmol/L^nanomole per liter^L", (10.0, "mg/L")),
        ("1988-5^CRP^LN", "1.2", "mg/dL^mg/dL (milligrams per decilitre)^L", (12.0, "mg/L")),
        ("718-7^Hb^LN", "13.5", "g/dL^grams per 100 millilitres^L", (13.5, "g/dL")),
        # no unit's word: passed over as before
        ("777-3^PLT^LN", "210", "10*9/L^Platelets^99LAB", (210.0, "10*9/L")),
        ("2160-0^CREA^LN", "88.4", "CREA-U^SI units^umol/L", (1.0, "mg/dL")),
    ],
)
def test_words_naming_the_coded_unit_are_read(
    obx3: str, value: str, obx6: str, stored: tuple[float, str]
) -> None:
    assert_stored_as(obx3, value, obx6, stored)


@pytest.mark.parametrize(
    ("analyte", "components"),
    [
        # a unit's words beside words that are no unit's: which unit, cannot be told
        (Analyte.PLATELETS, ("K/uL", "PLT units", "L")),
        (Analyte.CRP, ("mg/L", "milligrams per litre of serum", "L")),
        (Analyte.CRP, ("mg/L", "milliequivalents per litre", "L")),  # no factor told
        (Analyte.HAEMOGLOBIN, ("g/dL", "grams per", "L")),
        (Analyte.CRP, ("mg/L", "mg/L (milligrams per litre, 37 C)", "L")),
        (Analyte.NEUTROPHILS, ("10*9/L", "percent of leukocytes", "L")),
        (Analyte.ALT, ("U/L", "units per litre per minute", "L")),
    ],
)
def test_a_units_words_that_cannot_be_read_whole_are_refused(
    analyte: Analyte, components: tuple[str, ...]
) -> None:
    refused = resolve_unit(analyte, components)
    assert isinstance(refused, Rejected), refused
    assert refused.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert "cannot be read as one unit" in refused.reason, refused.reason
    assert repr(components[0]) in refused.reason  # the coded unit, named


@pytest.mark.parametrize(
    ("analyte", "components", "named"),
    [
        # words after a unit written first name a unit too: both compared
        (Analyte.HAEMOGLOBIN, ("g/L", "g/L (milligrams per litre)"), "words naming 'mg/L'"),
        (Analyte.NEUTROPHILS, ("10*9/L", "per cent"), "words naming '%'"),
        (Analyte.NEUTROPHILS, ("10*9/L", "Percent"), "words naming '%'"),
        (Analyte.NEUTROPHILS, ("10*9/L", "cells per microlitre"), "words naming '/uL'"),
        (Analyte.PLATELETS, ("/uL", "thousand per microlitre"), "'/uL' beside '10^3/uL'"),
        (Analyte.PLATELETS, ("10*9/L", "giga per microlitre"), "'10*9/L' beside '10^9/uL'"),
        (Analyte.CREATININE, ("mg/dL", "micromoles per litre"), "words naming 'umol/L'"),
        (Analyte.CRP, ("mg/L", "milligram/decilitre"), "words naming 'mg/dL'"),
        (Analyte.HAEMOGLOBIN, ("g/dL", "millimoles per litre"), "words naming 'mmol/L'"),
        (Analyte.CRP, ("mg/L", "micrograms per litre"), "words naming 'ug/L'"),
    ],
)
def test_words_naming_another_unit_are_named_in_the_reason(
    analyte: Analyte, components: tuple[str, ...], named: str
) -> None:
    refused = resolve_unit(analyte, components)
    assert isinstance(refused, Rejected), refused
    assert named in refused.reason, refused.reason


@pytest.mark.parametrize(
    "text",
    ["UCUM", "L", "99LAB", "Neutrophils", "PLTU", "CREA-U", "% of WBC", "SI units", "meter"],
)
def test_text_naming_no_unit_in_words_is_read_as_before(text: str) -> None:
    assert units_named(text) in {(), ("%",)}


# a unit's words and what they name per litre: (dimension, power of ten)
TOPS = {
    "gram": ("g", 0), "grams": ("g", 0), "milligrams": ("g", -3), "Microgram": ("g", -6),
    "millimoles": ("mol", -3), "micromole": ("mol", -6), "nanomoles": ("mol", -9),
    "mole": ("mol", 0), "microkatal": ("kat", -6), "katals": ("kat", 0),
    "units": ("U", 0), "international units": ("U", 0), "thousand": ("", 3),
    "billion": ("", 9), "giga": ("", 9), "10^9 cells": ("", 9), "cells": ("", 0),
}  # fmt: skip
BOTTOMS = {
    "litre": 0, "Liter": 0, "deciliter": -1, "decilitres": -1, "millilitre": -3,
    "100 millilitres": -1, "microliter": -6, "cubic millimetre": -6, "L": 0, "dL": -1,
}  # fmt: skip
# the accepted units and what they are per litre
PER_LITRE = {
    "mg/L": ("g", -3), "mg/dL": ("g", -2), "nmol/L": ("mol", -9), "10*9/L": ("", 9),
    "10*3/uL": ("", 9), "/uL": ("", 6), "g/dL": ("g", 1), "g/L": ("g", 0),
    "mmol/L": ("mol", -3), "U/L": ("U", 0), "ukat/L": ("kat", -6), "umol/L": ("mol", -6),
}  # fmt: skip
CODED = [(analyte, ucum) for analyte in Analyte for ucum in accepted_units(analyte)]


@given(
    coded=st.sampled_from(CODED),
    top=st.sampled_from(sorted(TOPS)),
    bottom=st.sampled_from(sorted(BOTTOMS)),
    per=st.sampled_from([" per ", " PER ", "/"]),
    words_first=st.booleans(),
)
def test_words_beside_a_unit_are_read_exactly_when_they_name_its_factor(
    coded: tuple[Analyte, str], top: str, bottom: str, per: str, words_first: bool
) -> None:
    analyte, ucum = coded
    dimension, power = TOPS[top]
    same = (dimension, power - BOTTOMS[bottom]) == PER_LITRE[ucum]
    words = f"{top}{per}{bottom}"
    pair = [words, ucum] if words_first else [ucum, words]
    resolved = resolve_unit(analyte, [*pair, "L"])
    if same:
        assert isinstance(resolved, UnitConversion), (analyte, pair, resolved)
        # the code, or words that are themselves a unit of its factor (`giga/L`: 10*9/L)
        assert PER_LITRE[resolved.source_unit] == PER_LITRE[ucum], (pair, resolved)
        alone = resolve_unit(analyte, [ucum])
        assert isinstance(alone, UnitConversion)
        assert (resolved.multiplier, resolved.divisor) == (alone.multiplier, alone.divisor)
    else:
        assert isinstance(resolved, Rejected), (analyte, pair, resolved)
        assert resolved.code is RejectionCode.UNCONVERTIBLE_UNIT


def _fhir(loinc: str, value: float, code: str, display: str) -> Any:
    quantity = {"value": value, "unit": display, "system": UCUM, "code": code}
    resource = lab_observation("OBS-94-UCUM", loinc, valueQuantity=quantity)
    decoded = json.loads(json.dumps(resource), parse_float=decimal.Decimal)
    return planned(parse_observation(decoded, "LIS", "HOSP"))


@pytest.mark.parametrize(
    ("loinc", "code", "display"),
    [  # UCUM's print names, as UCUM tools display a unit (FHIR Quantity.unit)
        ("751-8", "10*9/L", "(the number ten for arbitrary powers ^ 9) per liter"),
        ("777-3", "10*3/uL", "(the number ten for arbitrary powers ^ 3) per microliter"),
        ("1742-6", "U/L", "enzyme Unit per liter"),
        ("1742-6", "[IU]/L", "international unit per liter"),
        ("1975-2", "umol/L", "micromole per liter"),
        ("718-7", "g/dL", "gram per deciliter"),
        ("1988-5", "mg/L", "milligram per liter"),
        ("1920-8", "ukat/L", "microkatal per liter"),
    ],
)
def test_ucum_print_names_of_the_coded_unit_are_read(loinc: str, code: str, display: str) -> None:
    result = _fhir(loinc, 2.5, code, display)
    assert isinstance(result, list), described(result)


@pytest.mark.parametrize(
    ("loinc", "code", "display"),
    [
        ("751-8", "10*9/L", "(the number ten for arbitrary powers ^ 3) per liter"),
        ("777-3", "10*3/uL", "(the number ten for arbitrary powers ^ 9) per microliter"),
        ("1742-6", "U/L", "enzyme Unit per milliliter"),
    ],
)
def test_ucum_print_names_of_another_unit_are_refused(loinc: str, code: str, display: str) -> None:
    result = _fhir(loinc, 2.5, code, display)
    assert isinstance(result, Rejected), described(result)
    assert result.code is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    ("text", "named"),
    [("Milligramm pro Liter (mg/l)", ("mg/L", "mg/l")),
     ("milligrams per litre (mg/L)", ("mg/L", "mg/L")),
     ("Mikromol pro Liter (µmol/l)", ("umol/L", "µmol/l")),
     ("Milligramm pro Liter (mg/dl)", ("mg/L", "mg/dl"))],
)  # fmt: skip
def test_words_then_a_units_symbol_in_brackets_name_both(text: str, named: tuple[str, ...]) -> None:
    """Review 265: a Swiss display, read the other way round (``mg/L (milligrams per
    liter)``) but not so: the range was dropped, the value refused."""
    assert units_named(text) == named


@pytest.mark.parametrize("text", ["milligrams per litre of serum (mg/L)", "Liter (mg/l) x"])
def test_words_then_a_symbol_that_cannot_be_read_name_no_unit(text: str) -> None:
    assert units_named(text) is None
