"""Review 259: three ways a trial number was read otherwise than written (the same shapes
over MLLP and FHIR: tests/integration/test_lab_review259_numeric_reading.py).

D1: OBX-6's original text (CWE-9) was never read: a unit there that disagreed was passed
over, one there alone refused missing-unit. It is read as the other components are; the
coding system versions (CWE-7, 8) never are. D3: an SN value's components after SN.4 were
dropped. D2: a reference range's limit written ``-0`` was kept as -0.0.
"""

from __future__ import annotations

import math

import hl7
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_units import UnitReading, unit_reading, units_of
from services.lab_ingestion.adapters.obx6_versions import misplaced_unit
from services.lab_ingestion.domain.analytes import accepted_units, resolve_unit
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS, normalise
from services.lab_ingestion.domain.reference_ranges import parse_reference_range
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_samples import FAST, one_result_oru, planned
from tests.unit.lab_ingestion.test_normalise import accepted, observation

CRP, ANC = "1988-5^CRP^LN", "751-8^ANC^LN"
CRP_UNITS = sorted(accepted_units(Analyte.CRP, DEFAULT_UNIT_PARAMETERS))


def _obx(obx6: str) -> hl7.Segment:
    return hl7.parse(f"MSH|^~\\&|A\rOBX|1|NM|{CRP}||1.2|{obx6}|\r").segments("OBX")[0]


def _planned(
    code: str, value: str, obx6: str, value_type: str = "NM"
) -> NormalisedResult | Rejected:
    message = one_result_oru(code, value, obx6).replace("|NM|", f"|{value_type}|")
    results = planned(message)
    if isinstance(results, Rejected):
        return results
    [(_, result)] = results
    assert isinstance(result, NormalisedResult | Rejected)
    return result


def _refused(code: str, value: str, obx6: str, value_type: str = "NM") -> RejectionCode:
    result = _planned(code, value, obx6, value_type)
    assert isinstance(result, Rejected), (obx6, value, result)
    return result.code


def _stored(code: str, value: str, obx6: str, value_type: str = "NM") -> tuple[float, str]:
    result = _planned(code, value, obx6, value_type)
    assert isinstance(result, NormalisedResult), (obx6, value, result)
    return result.value, result.original_unit


@pytest.mark.parametrize(
    ("obx6", "reading"),
    [
        ("10*9/L^^UCUM^^^^^^%", UnitReading(("10*9/L", "UCUM"), None, ("%",))),
        # the caret's join moves the original text back to CWE-9
        ("10^9/L^^UCUM^^^^^^%", UnitReading(("10^9/L", "UCUM"), None, ("%",))),
        ("mg/dL~^^^^^^^^mg/L", UnitReading(("mg/dL",), None, ("mg/L",))),
        ("^^^^^^^^mg/dL", UnitReading((), None, ("mg/dL",))),
        ("mg/L^^UCUM^^^^2.1^v2^mg/L", UnitReading(("mg/L", "UCUM"), None, ("mg/L",))),
        ("^^^^^^2.1^v2", UnitReading((), None, ())),  # versions: never a unit
        (
            "mg/L^^^^^^^^^mg/dL^milligram per deciliter",
            UnitReading(("mg/L",), None, ("mg/dL", "milligram per deciliter")),
        ),
        ("mg/L^^^^^^^^mg/L&mg/dL", UnitReading(("mg/L",), None, ("mg/L", "mg/dL"))),
        ("mg/L^^^^^^^^^^^^OID.1.2", UnitReading(("mg/L",), None, ())),  # after CWE-11
        ("mg/L^^UCUM^^^^\\Zx\\^\\Zy\\", UnitReading(("mg/L", "UCUM"), None, ())),
    ],
)
def test_obx6_is_read_by_cwe_position(obx6: str, reading: UnitReading) -> None:
    assert unit_reading(_obx(obx6)) == reading


def test_another_tests_unit_is_read_as_before() -> None:
    """Its digest's sake: never its original text, and a caret split left apart."""
    assert units_of(_obx("10^9/L^^UCUM^^^^^^%")) == ("10", "9/L", "UCUM")
    assert units_of(_obx("^^^^^^^^mg/dL")) == ()


@pytest.mark.parametrize(
    ("code", "obx6"),
    [
        (ANC, "10*9/L^^UCUM^^^^^^%"),
        (CRP, "mg/dL^^UCUM^^^^^^mg/L"),
        (ANC, "10^9/L^^UCUM^^^^^^%"),
        (CRP, "mg/dL~^^^^^^^^mg/L"),
        (CRP, "mg/L^^^^^^^^^mg/dL"),  # CWE-10 (v2.7: second alternate identifier)
    ],
)
def test_an_original_text_naming_another_unit_is_refused(code: str, obx6: str) -> None:
    assert _refused(code, "12", obx6) is RejectionCode.UNCONVERTIBLE_UNIT


def test_an_undefined_escape_in_a_version_id_refuses_nothing() -> None:
    assert _stored(CRP, "1.2", "mg/L^^UCUM^^^^\\Zx\\^\\Zy\\") == (1.2, "mg/L")


def test_a_version_id_alone_is_no_unit() -> None:
    assert _refused(CRP, "12", "^^^^^^2.1") is RejectionCode.MISSING_UNIT


@pytest.mark.parametrize("misplaced", ["^^^^^^mg/L", "^^^^^^^mg/L", "^^^^^^%^2.1"])
def test_a_unit_miscounted_into_a_version_id_that_disagrees_is_refused(misplaced: str) -> None:
    """``mg/dL^^^^^^mg/L``: a unit there is never passed over (read as 120 mg/L before)."""
    assert _refused(CRP, "12", f"mg/dL{misplaced}") is RejectionCode.UNCONVERTIBLE_UNIT


def test_a_unit_miscounted_into_a_version_id_that_agrees_is_read() -> None:
    assert _stored(CRP, "1.2", "mg/dL^^^^^^mg/dL") == (12.0, "mg/dL")


@pytest.mark.parametrize("text", ["2.1", "v2", "V2.7", "2.5.1", "20200101", "*", "x", "1"])
def test_a_version_id_is_never_a_misplaced_unit(text: str) -> None:
    assert not misplaced_unit(text)


_VERSION = st.text(alphabet="0123456789.vVxXeE/-* ", max_size=8)


@FAST
@given(unit=st.sampled_from(CRP_UNITS), seventh=_VERSION, eighth=_VERSION)
def test_version_ids_never_change_the_reading(unit: str, seventh: str, eighth: str) -> None:
    """Whatever CWE-7 and 8 hold (a number, a power base), the result is read as without
    them, unless it is written as a unit (miscounted carets: ``misplaced_unit``)."""
    assume(not misplaced_unit(seventh) and not misplaced_unit(eighth))
    expected = _stored(CRP, "1.2", f"{unit}^^UCUM")
    assert _stored(CRP, "1.2", f"{unit}^^UCUM^^^^{seventh}^{eighth}") == expected
    assert _stored(CRP, "1.2", f"^^^^^^{seventh}^{eighth}^{unit}") == expected


@FAST
@given(first=st.sampled_from(CRP_UNITS), text=st.sampled_from(CRP_UNITS), repeat=st.booleans())
def test_an_original_text_is_compared_as_a_component_is(
    first: str, text: str, repeat: bool
) -> None:
    """CWE-9, of the first repetition or a later one, agrees or disagrees exactly as the
    same unit in CWE-2 does: never chosen between."""
    obx6 = f"{first}~^^^^^^^^{text}" if repeat else f"{first}^^UCUM^^^^^^{text}"
    as_component = resolve_unit(Analyte.CRP, (first, text), DEFAULT_UNIT_PARAMETERS)
    result = _planned(CRP, "1.2", obx6)
    if isinstance(as_component, Rejected):
        assert isinstance(result, Rejected) and result.code is as_component.code, result
    else:
        assert isinstance(result, NormalisedResult), result
        assert result.original_unit == first


@pytest.mark.parametrize("value", ["^12^^^99", "^12^^^^^^^^^^13", "<^5^^^^^^^^>", "^1^:^2^3"])
def test_sn_components_after_the_fourth_are_refused(value: str) -> None:
    assert _refused(CRP, value, "mg/L", "SN") is RejectionCode.NON_NUMERIC_VALUE


_NUMBER = st.decimals(min_value="0.1", max_value=999, places=1).map(str)
_EXTRA = st.text(alphabet="0123456789<>=.-abcXYZ", min_size=1, max_size=4)


@FAST
@given(
    number=_NUMBER,
    comparator=st.sampled_from(["", "<", ">", "<=", ">="]),
    empties=st.integers(0, 6),
)
def test_sn_empty_trailing_components_are_nothing(
    number: str, comparator: str, empties: int
) -> None:
    plain = _planned(CRP, f"{comparator}^{number}", "mg/L", "SN")
    trailing = _planned(CRP, f"{comparator}^{number}" + "^" * empties, "mg/L", "SN")
    assert trailing == plain


@FAST
@given(number=_NUMBER, gap=st.integers(0, 6), extra=_EXTRA)
def test_an_sn_component_after_the_fourth_is_never_dropped(
    number: str, gap: int, extra: str
) -> None:
    value = f"^{number}^^" + "^" * gap + f"^{extra}"
    assert _refused(CRP, value, "mg/L", "SN") is RejectionCode.NON_NUMERIC_VALUE


_ZERO = st.builds(
    lambda zeros, decimals, comma: (
        "-" + "0" * zeros + ((("," if comma else ".") + "0" * decimals) if decimals else "")
    ),
    st.integers(1, 3),
    st.integers(0, 3),
    st.booleans(),
)


@FAST
@given(zero=_ZERO, high=st.sampled_from(["5", "10", "8.0"]))
def test_a_limit_written_minus_zero_is_zero(zero: str, high: str) -> None:
    low, read_high = parse_reference_range(f"{zero}-{high}")
    assert low == 0.0 and math.copysign(1, low) == 1.0, (zero, low)
    assert read_high == float(high)
    result = accepted(
        normalise(observation(Analyte.CRP, "1.2", ("mg/L",), reference_range=f"{zero}-{high}"))
    )
    assert result.reference_low is not None and math.copysign(1, result.reference_low) == 1.0


def test_an_upper_limit_written_minus_zero_is_zero() -> None:
    low, high = parse_reference_range("<-0")
    assert low is None and high is not None and math.copysign(1, high) == 1.0


def test_a_split_unit_is_never_read_again_in_a_version_ids_place() -> None:
    """After a caret split is joined, CWE-7 is what stands there: never a unit's second half
    (``3/mcL`` of the third ``10^3/mcL`` below was read as a misplaced unit)."""
    assert _stored(ANC, "0.7", "10^3/mcL^10^3/mcL^^10^3/mcL") == (0.7, "10^3/mcL")
    assert _stored(ANC, "0.7", "10^9/L^^UCUM^^^^2.1^v2^10*9/L") == (0.7, "10^9/L")
