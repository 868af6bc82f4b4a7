"""A trial result's value, flag, range, status or report time written with sub-components
(review 179): never read as its first part.

An unescaped ``&`` (HL7's sub-component separator; ``&lt;``, an XML entity a converter
left) split the field, and the check for sub-components counted only parts that were not
empty: SN ``&lt;^50`` was read as 50, ``&lt;0.5`` as empty, an OBX-8 ``&lt;`` as no flag, an
OBX-7 ``<41 U/L (M) & <33 U/L (F)`` as ``<41``. Another test's observation is read as
before (it is left out, never refused)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from tests.integration.lab_fixtures import oru

TS = "20261120081500+0100"


def read(fields: str, *, pid3: str | None = None) -> NormalisedResult | Rejected | None:
    message, _ = parse_oru(oru("SUB-1", [fields], pid3=pid3))
    (observation,) = message.observations
    return normalise(observation)


def rejected(fields: str, code: RejectionCode) -> str:
    result = read(fields)
    assert isinstance(result, Rejected), result
    assert result.code is code, result
    return result.reason


@pytest.mark.parametrize(
    "fields",
    [
        f"SN|777-3^PLT^LN||&lt;^50|10*9/L|150-400||||F|||{TS}",  # read as 50, no comparator
        f"SN|751-8^ANC^LN||&lt;^1.0|10*9/L|1.8-7.7||||F|||{TS}",
        f"SN|1988-5^CRP^LN||&lt;^10|mg/L|<5||||F|||{TS}",
        f"SN|1742-6^ALT^LN||&gt;^1000|U/L|<41||||F|||{TS}",
        f"SN|777-3^PLT^LN||^0.5^^&2|10*9/L|150-400||||F|||{TS}",  # read as 0.5
        f"SN|751-8^ANC^LN||&lt;0.5|10*9/L|1.8-7.7||||F|||{TS}",  # read as empty
        f"SN|751-8^ANC^LN||^&0.5|10*9/L|1.8-7.7||||F|||{TS}",
        f"SN|1988-5^CRP^LN||^5&|mg/L|<5||||F|||{TS}",  # a trailing empty part too
        f"NM|1988-5^CRP^LN||5&|mg/L|<5||||F|||{TS}",
        f"NM|1988-5^CRP^LN||9&5|mg/L|<5||||F|||{TS}",  # refused before, now by its cause
        f"ST|1988-5^CRP^LN||<5~&|mg/L|<5||||F|||{TS}",  # in a repetition
    ],
)
def test_a_value_with_sub_components_is_refused_by_its_cause(fields: str) -> None:
    reason = rejected(fields, RejectionCode.NON_NUMERIC_VALUE)
    assert " value is written with sub-components (an unescaped '&')" in reason
    assert "lt;" not in reason and "50" not in reason  # nothing of the value is quoted


def test_an_escaped_limit_keeps_its_comparator() -> None:
    result = read(f"SN|777-3^PLT^LN||<^50|10*9/L|150-400||||F|||{TS}")
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.comparator, result.original_value) == (50.0, "<", "<50")


@pytest.mark.parametrize("value", ["^^-^0.5", "<^^-^5", "^^^5", "^^:^2"])
def test_an_sn_without_its_first_number_is_refused_as_malformed(value: str) -> None:
    """``^^-^0.5`` was refused as "negative": it is an SN with no first number."""
    reason = rejected(
        f"SN|1988-5^CRP^LN||{value}|mg/L|<5||||F|||{TS}", RejectionCode.NON_NUMERIC_VALUE
    )
    assert reason == (
        "crp value is an SN without its first number (SN.2) before its separator or second number"
    )


@pytest.mark.parametrize("flags", ["&lt;", "H&", "N~&lt;", "&gt;^High^HL70078"])
def test_a_flag_with_sub_components_is_refused(flags: str) -> None:
    """``&lt;`` (the off-scale ``<``?) read as its first part was no flag: 50 was measured."""
    reason = rejected(
        f"NM|777-3^PLT^LN||50|10*9/L|150-400|{flags}|||F|||{TS}", RejectionCode.IMPLAUSIBLE_VALUE
    )
    assert reason.startswith("platelets result: its abnormal flag (OBX-8) is written with sub")


def test_a_flags_text_may_hold_an_ampersand() -> None:
    """OBX-8's CWE-2 is a text, never read."""
    result = read(f"NM|1988-5^CRP^LN||12|mg/L|<5|H^High & rising|||F|||{TS}")
    assert isinstance(result, NormalisedResult), result
    assert result.abnormal_flag == "H"


@pytest.mark.parametrize(
    "written",
    [
        "<41 U/L (M) & <33 U/L (F)",  # read as <41: the men's limit for everyone
        "<33 U/L (F)~<41 U/L (M) & x",
        "&lt;41",
        "10-40&",
        "10-40^U/L&x",
    ],
)
def test_a_range_with_sub_components_is_dropped(written: str) -> None:
    result = read(f"NM|1742-6^ALT^LN||100|U/L|{written}||||F|||{TS}")
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.reference_low, result.reference_high) == (100.0, None, None)


@pytest.mark.parametrize(
    "fields",
    [
        f"SN|4548-4^HbA1c^LN||&lt;^5|%|4-6|&lt;|||F|||{TS}",  # another test's: left out
        f"NM|4548-4^HbA1c^LN||5&|%|4&6||||I&F|||{TS}",
    ],
)
def test_another_tests_fields_are_read_as_before(fields: str) -> None:
    assert read(fields) is None


def test_a_trial_results_status_with_sub_components_is_malformed() -> None:
    """``I&F`` was read as I (pending), and the result left out as another test's."""
    with pytest.raises(Hl7InputError) as caught:
        read(f"NM|1988-5^CRP^LN||12|mg/L|<5||||I&F|||{TS}")
    assert caught.value.code is RejectionCode.MALFORMED
    assert caught.value.reason.startswith("OBX-11 holds sub-components")


@pytest.mark.parametrize("written", ["20261120091500&+0100", "&20261120091500+0100"])
def test_a_report_time_with_sub_components_is_no_time(written: str) -> None:
    """OBX-19 (and OBR-22) have none: its first part is another time, or none."""
    text = oru("SUB-1", [f"NM|1988-5^CRP^LN||12|mg/L|<5||||F|||{TS}|||||{written}"])
    message, _ = parse_oru(text)
    (observation,) = message.observations
    assert observation.reported_at is None and observation.reported_local is None
    assert isinstance(normalise(observation), NormalisedResult)  # never refusing it


def test_a_patient_numbers_type_with_sub_components_is_malformed() -> None:
    """CX-5 decides which number is the patient's: ``MR&NN`` read as MR chose it."""
    pid3 = "MRN4711^^^HOSP^MR&NN"
    with pytest.raises(Hl7InputError) as caught:
        parse_oru(
            oru("SUB-1", [f"NM|1988-5^CRP^LN||12|mg/L|<5||||F|||{TS}"], pid3=pid3),
            identify=lambda n: hashlib.sha256(n.encode()).hexdigest(),
        )
    assert caught.value.code is RejectionCode.MALFORMED
    assert caught.value.reason.startswith("PID-3 holds sub-components")


# --- any sub-component separator, anywhere in the field ------------------------------------

_TEXT = st.text(alphabet="0123456789.<>=-:+ lgt;LHN", max_size=6)


@st.composite
def with_ampersand(draw: st.DrawFn, components: int) -> str:
    """A field of up to ``components`` components (``^``), one ``&`` put somewhere in one."""
    parts = [draw(_TEXT) for _ in range(draw(st.integers(1, components)))]
    at = draw(st.integers(0, len(parts) - 1))
    cut = draw(st.integers(0, len(parts[at])))
    parts[at] = parts[at][:cut] + "&" + parts[at][cut:]
    return "^".join(parts)


@given(value=with_ampersand(4), value_type=st.sampled_from(["SN", "NM", "ST"]))
def test_a_value_with_an_ampersand_is_never_read(value: str, value_type: str) -> None:
    result = read(f"{value_type}|777-3^PLT^LN||{value}|10*9/L|150-400||||F|||{TS}")
    assert isinstance(result, Rejected), (value, result)
    assert result.code is RejectionCode.NON_NUMERIC_VALUE


@given(flag=with_ampersand(3))
def test_a_flag_with_an_ampersand_in_its_code_is_never_read(flag: str) -> None:
    flag = flag if "&" in flag.split("^", maxsplit=1)[0] else "&" + flag  # in CWE-1, the code
    result = read(f"NM|777-3^PLT^LN||50|10*9/L|150-400|{flag}|||F|||{TS}")
    assert isinstance(result, Rejected), (flag, result)
    assert "OBX-8" in result.reason


@st.composite
def range_with_ampersand(draw: st.DrawFn) -> str:
    """A range a laboratory writes (``10-40``, ``<41 U/L (M)``), one ``&`` put somewhere in
    it or after it, and perhaps more text after that."""
    written = draw(st.sampled_from(["10-40", "<41", ">5", "0-50 U/L", "<41 U/L (M)", "7-35"]))
    cut = draw(st.integers(0, len(written)))
    return written[:cut] + "&" + written[cut:] + draw(_TEXT)


@given(written=range_with_ampersand(), value=st.sampled_from(["100", "<5", "20"]))
def test_a_range_with_an_ampersand_is_never_read(written: str, value: str) -> None:
    result = read(f"ST|1742-6^ALT^LN||{value}|U/L|{written}||||F|||{TS}")
    assert not isinstance(result, NormalisedResult) or (
        result.reference_low,
        result.reference_high,
    ) == (None, None), (written, result)
