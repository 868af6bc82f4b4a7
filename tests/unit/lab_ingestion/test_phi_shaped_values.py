"""A birth date, phone or AHV number sent as a result's value is quoted in no reason
(review 125: ``19580214`` mg/L was refused as "crp 19580214 mg/L is above any human
value", and the reason is the ACK's, the kept rejection's and its lab.rejected.v1 event's).
Whatever unit, comparator, flag or range comes with it, no reason holds its digits, nor
the first six of them (a float's ``.6g`` rounding: ``1.95802e+07``)."""

from __future__ import annotations

import re

import hypothesis.strategies as st
from hypothesis import given, settings

from services.lab_ingestion.domain.analytes import accepted_units
from services.lab_ingestion.domain.lab_numbers import show_value
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.plausibility import check_count_per_microlitre
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_normalise import observation

DAYS, MONTHS, YEARS = st.integers(1, 28), st.integers(1, 12), st.integers(1900, 2026)


@st.composite
def phi_numbers(draw: st.DrawFn) -> str:
    """A birth date (YYYYMMDD, DDMMYYYY; DDMMYY, YYMMDD, MMDDYY: review 128, the six-digit
    spellings kept copies scrub), a Swiss phone number or an AHV number."""
    day, month, year = draw(DAYS), draw(MONTHS), draw(YEARS)
    short = year % 100
    return draw(
        st.sampled_from([
            f"{year:04d}{month:02d}{day:02d}",
            f"{day:02d}{month:02d}{year:04d}",
            f"{day:02d}{month:02d}{short:02d}",
            f"{short:02d}{month:02d}{day:02d}",
            f"{month:02d}{day:02d}{short:02d}",
            f"07{draw(st.integers(5, 9))}{draw(st.integers(0, 9_999_999)):07d}",
            f"756{draw(st.integers(0, 9_999_999_999)):010d}",
        ])
    )  # fmt: skip


@st.composite
def phi_values(draw: st.DrawFn) -> tuple[str, str]:
    """A PHI number as a value field may hold it: maybe with a comparator, maybe with a
    decimal point put in; with the number's digits."""
    number = draw(phi_numbers())
    if draw(st.booleans()):
        at = draw(st.integers(1, len(number) - 1))
        number = f"{number[:at]}.{number[at:]}"
    return draw(st.sampled_from(["", "<", ">", ">=", "<= "])) + number, number.replace(".", "")


def _digit_runs(reason: str) -> list[str]:
    """Each number in the reason with its separators and exponent dropped."""
    return [re.sub(r"[^0-9]", "", run) for run in re.findall(r"[0-9][0-9.,e+-]*", reason)]


def quotes(reason: str, digits: str) -> bool:
    """Whether the reason holds the number's first six significant digits (a float's
    ``.6g``), or all of them when it has fewer (``021458`` quoted as 21458)."""
    significant = digits.lstrip("0")[:6]
    return any(significant in run for run in _digit_runs(reason) if len(run) >= len(significant))


@settings(max_examples=400, deadline=None)
@given(
    phi=phi_values(),
    analyte=st.sampled_from(list(Analyte)),
    unit_index=st.integers(0, 20),
    flag=st.sampled_from([None, "L", "H", "LL", "HH", "N", "<", ">", "A"]),
    reference_range=st.sampled_from([None, "150-400", "1.8-7.7", "1800-7700", "<5", "62-106"]),
)
def test_no_reason_quotes_a_phi_shaped_value(
    phi: tuple[str, str],
    analyte: Analyte,
    unit_index: int,
    flag: str | None,
    reference_range: str | None,
) -> None:
    value, digits = phi
    units = sorted(accepted_units(analyte))
    unit = units[unit_index % len(units)]
    result = normalise(
        observation(analyte, value, (unit,), abnormal_flag=flag, reference_range=reference_range)
    )
    if isinstance(result, Rejected):
        assert digits not in result.reason and not quotes(result.reason, digits), result


def test_the_finding_a_birth_date_above_any_crp_is_refused_without_it() -> None:
    result = normalise(observation(Analyte.CRP, "19580214", ("mg/L",)))
    assert result == Rejected(
        RejectionCode.IMPLAUSIBLE_VALUE,
        "crp value is above any human value (1000 mg/L): check the unit and the decimal point",
    )


def test_a_birth_date_read_as_a_platelet_count_per_microlitre_is_not_quoted_rounded() -> None:
    """01021958 /uL is 1021.958 x10^9/L, a human count: a flag that contradicts it names the
    flag and the limit, not the value (it was quoted as 1021.96)."""
    result = normalise(observation(Analyte.PLATELETS, "01021958", ("/uL",), abnormal_flag="L"))
    assert isinstance(result, Rejected), result
    assert "contradicts the value, above every laboratory's lower limit" in result.reason
    assert "1021" not in result.reason


def test_a_lab_number_is_still_quoted() -> None:
    result = normalise(observation(Analyte.NEUTROPHILS, "450", ("10*9/L",), abnormal_flag="LL"))
    assert isinstance(result, Rejected)
    assert "contradicts the value 450 10*9/L, above" in result.reason
    for value in ("<5", "12.5", "0.45", "1.500", "<0.5", "7700", ">= 200", "1,5"):
        assert show_value(value) == repr(value)


def test_a_six_digit_birth_date_read_as_a_platelet_count_is_not_quoted() -> None:
    """Review 128: 140258 /uL (the fixture's birth date, 1958-02-14, as DDMMYY) flagged H was
    refused "the abnormal flag 'H' contradicts the value 140.258 10*9/L": the date with a
    dot put in, in the ACK, the kept rejection and its event."""
    result = normalise(observation(Analyte.PLATELETS, "140258", ("/uL",), abnormal_flag="H"))
    assert isinstance(result, Rejected), result
    assert "contradicts the value, below every laboratory's upper limit" in result.reason
    assert "140" not in result.reason and "258" not in result.reason


def test_six_digits_are_not_shown_with_or_without_a_dot() -> None:
    for value in ("140258", "14.0258", "140.258", "<580214", "021458", "250.000", "250000"):
        assert show_value(value) == f"(text of {len(value)} characters)"


def test_a_value_of_eight_digits_with_a_dot_put_in_is_not_shown() -> None:
    for value in ("1958.0214", "195802.14", "0102.1958", "<1958021.4"):
        assert show_value(value) == f"(text of {len(value)} characters)"


def test_a_count_below_the_platelet_floor_is_quoted_only_whole() -> None:
    whole = check_count_per_microlitre(Analyte.PLATELETS, 250.0)
    assert whole is not None and whole.reason.startswith("platelets 250 per microlitre")
    fraction = check_count_per_microlitre(Analyte.PLATELETS, 195.80214)
    assert fraction is not None and "195" not in fraction.reason


def test_a_six_digit_birth_date_below_the_platelet_floor_is_not_quoted() -> None:
    """``000101`` (1 January 2000 as YYMMDD) per microlitre is 101 cells, below any count
    measured: the reason said "platelets 101 per microlitre" (review 128)."""
    result = normalise(observation(Analyte.PLATELETS, "000101", ("/uL",)))
    assert isinstance(result, Rejected), result
    assert result.reason.startswith("platelets per microlitre is below"), result.reason
    assert "101" not in result.reason
