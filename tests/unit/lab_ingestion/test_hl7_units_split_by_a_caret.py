"""OBX-6 whose unit's caret is written unescaped (review 126: probe rows 9, 10, 16).

``x10^9/L`` written plainly in OBX-6 splits it into ``x10`` and ``9/L``: every such
neutrophil and platelet count was refused, with the reason ``unit 'x10^9/L' cannot be
converted to 10*9/L for neutrophils`` (the unit the protocol lists). A bare power base and
the component after it are read joined when that is a listed spelling, exactly as the
escaped unit (``x10\\S\\9/L``) is; the rest of OBX-6 is compared with it as before; any
other split is refused with its cause named.
"""

from __future__ import annotations

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_units import unit_split, units_of
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.unit_carets import is_power_base, rejoined
from services.lab_ingestion.domain.unit_spellings import UNIT_SPELLINGS
from tests.unit.lab_ingestion.hl7_samples import FAST, one_result_oru, only_result, planned

ANC, PLT = "26499-4^ANC^LN", "777-3^PLT^LN"
# every listed spelling written with a caret, and the UCUM code it stands for
CARET_SPELLINGS = sorted(
    (spelling, ucum) for ucum, spellings in UNIT_SPELLINGS.items() for spelling in spellings
    if "^" in spelling
)  # fmt: skip


def _escaped(obx6: str) -> str:
    """OBX-6 with each listed caret spelling's caret escaped: the unit as HL7 writes it."""
    for spelling, _ in sorted(CARET_SPELLINGS, key=lambda s: -len(s[0])):
        obx6 = obx6.replace(spelling, spelling.replace("^", "\\S\\"))
        obx6 = obx6.replace(spelling.upper(), spelling.upper().replace("^", "\\S\\"))
    return obx6


def _obx(obx6: str) -> hl7.Segment:
    message = hl7.parse(f"MSH|^~\\&|A\rOBX|1|NM|{ANC}||0.7|{obx6}|\r")
    return message.segments("OBX")[0]


def _planned(obx3: str, value: str, obx6: str, obx7: str = "") -> NormalisedResult | Rejected:
    """The one result of a message, or its refusal (the message's, which is the result's)."""
    results = planned(one_result_oru(obx3, value, obx6, obx7))
    if isinstance(results, Rejected):
        return results
    [(_, result)] = results
    assert isinstance(result, NormalisedResult | Rejected)
    return result


def _refused(obx3: str, value: str, obx6: str, obx7: str = "") -> Rejected:
    result = _planned(obx3, value, obx6, obx7)
    assert isinstance(result, Rejected), (obx6, result)
    return result


def _outcome(obx3: str, value: str, obx6: str, obx7: str = "") -> object:
    result = _planned(obx3, value, obx6, obx7)
    if isinstance(result, Rejected):
        return ("refused", result.code)
    return (result.value, result.unit, result.original_unit, result.reference_low)


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "original"),
    [
        (ANC, "0.7", "x10^9/L", "x10^9/L"),  # the review's rows
        (ANC, "0.7", "10^9/L", "10^9/L"),
        (PLT, "150", "10^3/uL", "10^3/uL"),
        (PLT, "150", "x10^3/mm3", "x10^3/mm3"),
        (ANC, "0.7", "X10^9/L", "X10^9/L"),  # one case throughout, as listed spellings match
        # the CE shape: a coding system, and the UCUM code in the alternate identifier
        (ANC, "0.7", "x10^9/L^L", "x10^9/L"),
        (ANC, "0.7", "10^9/L^^10*9/L^10*9/L^UCUM", "10^9/L"),
        (ANC, "0.7", "x10^9/L^^L^10*9/L^^UCUM", "x10^9/L"),
        (PLT, "150", "10^3/uL^^L^10*3/uL^^UCUM", "10^3/uL"),
        # the identifier and the text both split: the alternate code read in its place
        (ANC, "0.7", "x10^9/L^x10^9/L^L^10*9/L^10*9/L^UCUM", "x10^9/L"),
    ],
)
def test_a_listed_unit_split_by_a_caret_is_read_as_the_unit_meant(
    obx3: str, value: str, obx6: str, original: str
) -> None:
    result = only_result(one_result_oru(obx3, value, obx6))
    assert (result.value, result.unit, result.original_unit) == (float(value), "10*9/L", original)
    assert _outcome(obx3, value, _escaped(obx6)) == _outcome(obx3, value, obx6)


@pytest.mark.parametrize(
    "obx6",
    [
        "x10^9/L^^L^/uL^^UCUM",  # a code in the alternate identifier of another factor
        "10^9/L^^L^mg/L^^UCUM",  # a unit neutrophils are never reported in
        "x10^9/L^%",  # a percentage in the text
        "10^9/L^^L^x10^3/mL",  # an unlisted unit in the alternate identifier
    ],
)
def test_an_explicit_unit_beside_a_split_one_that_disagrees_still_refuses(obx6: str) -> None:
    assert _refused(ANC, "0.7", obx6).code is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    ("obx6", "shown"),
    [
        ("x10^12/L", "'x10' and '12/L'"),  # no unit of neutrophils
        ("x10^/uL", "'x10' and '/uL'"),  # read apart, its multiplier was passed over
        ("x10^G/L", "'x10' and 'G/L'"),
        ("10E^9/L", "'10E' and '9/L'"),
        ("10^9/L^^L", None),  # accepted: control
        # a date after the base is shown by its length, never quoted
        ("x10^12/03/1961", "'x10' and (text of 10 characters, not a known unit)"),
    ],
)
def test_another_split_is_refused_naming_its_cause(obx6: str, shown: str | None) -> None:
    if shown is None:
        assert isinstance(_planned(ANC, "0.7", obx6), NormalisedResult)
        return
    result = _refused(ANC, "0.7", obx6)
    assert result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert result.reason == (
        f"unit of neutrophils: OBX-6 holds {shown} as two components, no unit the service "
        "lists when joined: write a caret in a unit as \\S\\"
    )
    assert "1961" not in result.reason


def test_the_escaped_unit_is_read_as_before() -> None:
    assert unit_split(_obx("x10\\S\\9/L")) == (("x10^9/L",), None)
    result = _refused(ANC, "0.7", "x10\\S\\12/L")
    assert result.reason == "unit 'x10^12/L' cannot be converted to 10*9/L for neutrophils"


def test_another_tests_unit_is_read_as_before() -> None:
    """Only a trial result's OBX-6 is joined: another test's is read, and digested, as it
    was (a resend of a stored message stays a duplicate)."""
    assert units_of(_obx("x10^9/L")) == ("x10", "9/L")
    assert unit_split(_obx("x10^9/L")) == (("x10^9/L",), None)


def test_the_unit_slip_checks_read_the_joined_unit_as_the_escaped_one() -> None:
    # a count per microlitre labelled x10^9/L, its range in /uL: refused either way
    for obx6 in ("x10^9/L", "x10\\S\\9/L"):
        refused = _refused("751-8^ANC^LN", "450", obx6, "1800-7700")
        assert refused.code is RejectionCode.IMPLAUSIBLE_VALUE
        assert "check the unit" in refused.reason


def test_bare_power_bases() -> None:
    assert all(is_power_base(t) for t in ("10", "x10", "X10", "\u00d710", " x 10 ", "10E"))
    assert not any(is_power_base(t) for t in ("10*9/L", "mg/L", "100", "x10^9/L", "L", ""))
    assert rejoined(["x10", "9/L", "", "L"]) == (["x10^9/L", "", "L"], None)
    assert rejoined(["10", "", "9/L"]) == (["10", "", "9/L"], None)  # nothing after it


_SYSTEMS = st.sampled_from(["", "L", "UCUM", "99LAB"])
_ALTERNATES = st.sampled_from(
    ["", "10*9/L", "10*3/uL", "/uL", "mg/L", "%", "G/L", *(s for s, _ in CARET_SPELLINGS)]
)


@FAST
@given(
    spelling=st.sampled_from(CARET_SPELLINGS),
    text=st.sampled_from(["", "same", "Neutrophils"]),
    system=_SYSTEMS,
    alternate=_ALTERNATES,
    alternate_system=_SYSTEMS,
    platelets=st.booleans(),
)
def test_a_caret_spelling_unescaped_is_read_as_escaped(
    spelling: tuple[str, str],
    text: str,
    system: str,
    alternate: str,
    alternate_system: str,
    platelets: bool,
) -> None:
    """Any listed caret spelling in any CE shape: read unescaped as written escaped, the
    same value, unit and original unit, or refused alike."""
    unit = spelling[0]
    shown = unit if text == "same" else text
    obx6 = "^".join([unit, shown, system, alternate, "", alternate_system]).rstrip("^")
    obx3, value = (PLT, "150") if platelets else (ANC, "0.7")
    assert _outcome(obx3, value, obx6) == _outcome(obx3, value, _escaped(obx6)), obx6


@FAST
@given(rest=st.text(st.sampled_from("0123456789/LuLmgx*^E."), min_size=1, max_size=8))
def test_a_power_base_before_anything_unlisted_is_refused(rest: str) -> None:
    obx6 = f"x10^{rest}"
    _, split = rejoined(["x10", *rest.split("^")])
    outcome = _outcome(ANC, "0.7", obx6)
    if split is not None:
        assert outcome == ("refused", RejectionCode.UNCONVERTIBLE_UNIT), obx6


@pytest.mark.parametrize(
    ("value", "obx7"),
    [
        ("0.7", "1.8-7.5 x10^9/L"),  # read whole: its first component alone held no unit
        ("0.7", "1.8-7.5x10^9/L"),
        ("0.7", "1.8-7.5 10^9/L"),
        ("450", "1800-7700 x10^9/L"),
        ("450", "1.8-7.7 x10^3/uL"),
        ("0.7", "0 - 10^mg/L"),  # no exponent after the 10: read as before
    ],
)
def test_a_range_split_by_a_units_caret_is_read_as_written_escaped(value: str, obx7: str) -> None:
    unescaped = _outcome(ANC, value, "x10^9/L", obx7)
    assert unescaped == _outcome(ANC, value, "x10\\S\\9/L", _escaped(obx7))


def test_a_range_split_by_a_units_caret_is_the_results_range() -> None:
    result = _planned(ANC, "0.7", "x10^9/L", "1.8-7.5 x10^9/L")
    assert isinstance(result, NormalisedResult)
    assert (result.reference_low, result.reference_high) == (1.8, 7.5)
