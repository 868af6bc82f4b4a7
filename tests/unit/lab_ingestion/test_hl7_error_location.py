"""ERR-2 (ERL, v2.5 on) and ERR-1's first components (ELD, v2.3/2.4) say where the error an
ACK reports lies: the OBX of the result at fault and its field, or the header's or patient's
field; nothing where it cannot be told."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_ack import build_ack
from services.lab_ingestion.adapters.hl7_error_location import ErrorLocation, error_location
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.test_hl7_ack import NOW, SENDER, field, parse_ack


def _err(ack: str) -> str:
    return next(line for line in ack.split("\r") if line.startswith("ERR"))


@pytest.mark.parametrize(
    ("code", "observation", "location"),
    [
        (RejectionCode.UNCONVERTIBLE_UNIT, 1, ErrorLocation("OBX", 2, 6)),
        (RejectionCode.UNKNOWN_STATUS, 0, ErrorLocation("OBX", 1, 11)),
        (RejectionCode.AMBIGUOUS_ANALYTE, 0, ErrorLocation("OBX", 1, 3)),
        # the OBX alone where the fault may lie in another field than the one refused: a
        # value's type (OBX-2) or flags (OBX-8), a time taken from OBR-7 or OBR-22
        (RejectionCode.NON_NUMERIC_VALUE, 0, ErrorLocation("OBX", 1)),
        (RejectionCode.CENSORED_VALUE, 3, ErrorLocation("OBX", 4)),
        (RejectionCode.IMPLAUSIBLE_VALUE, 1, ErrorLocation("OBX", 2)),
        (RejectionCode.MISSING_COLLECTION_TIME, 2, ErrorLocation("OBX", 3)),
        (RejectionCode.IMPLAUSIBLE_TIME, 0, ErrorLocation("OBX", 1)),
        (RejectionCode.OTHER_SAMPLES_RESULT, 0, ErrorLocation("OBX", 1)),
        (RejectionCode.MISSING_PATIENT, None, ErrorLocation("PID", 1, 3)),
        (RejectionCode.MULTIPLE_PATIENTS, None, ErrorLocation("PID", 2)),
        (RejectionCode.WRONG_PROCESSING_ID, None, ErrorLocation("MSH", 1, 11)),
        (RejectionCode.REUSED_MESSAGE_ID, None, ErrorLocation("MSH", 1, 10)),
    ],
)
def test_each_rejection_names_where_it_lies(
    code: RejectionCode, observation: int | None, location: ErrorLocation
) -> None:
    assert error_location(code, observation) == location


@pytest.mark.parametrize(
    ("code", "observation"),
    [
        (RejectionCode.UNKNOWN_ANALYTE, None),  # no trial result at all: no one OBX
        (RejectionCode.UNCONVERTIBLE_UNIT, None),  # its result not known
        (RejectionCode.MALFORMED, None),
        (RejectionCode.PROCESSING_FAILED, 0),
        (RejectionCode.UNKNOWN_SOURCE, None),  # MSH-3 or MSH-4: either may be unknown
        (None, None),
    ],
)
def test_nothing_is_named_where_it_cannot_be_told(
    code: RejectionCode | None, observation: int | None
) -> None:
    assert error_location(code, observation) is None


def test_a_version_refused_names_msh12_another_message_type_msh9() -> None:
    refused = RejectionCode.UNSUPPORTED_MESSAGE
    assert error_location(refused, None, version_refused=True) == ErrorLocation("MSH", 1, 12)
    assert error_location(refused, None) == ErrorLocation("MSH", 1, 9)


@given(st.sampled_from(list(RejectionCode)), st.none() | st.integers(0, 10_000))
def test_a_location_is_always_a_segment_and_its_sequence(
    code: RejectionCode, observation: int | None
) -> None:
    location = error_location(code, observation)
    if location is not None:
        assert location.segment in {"MSH", "PID", "OBX"} and location.sequence >= 1
        assert location.field is None or 1 <= location.field <= 25
        if location.segment == "OBX":
            assert observation is not None and location.sequence == observation + 1


def test_v25_writes_the_location_in_err2() -> None:
    ack = build_ack(
        replace(SENDER, version="2.5.1"), "AE", text="unit 'x' not convertible",
        error=RejectionCode.UNCONVERTIBLE_UNIT, location=ErrorLocation("OBX", 2, 6),
        control_id="A", now=NOW,
    )  # fmt: skip
    assert _err(ack) == (
        "ERR||OBX^2^6|103^Table value not found^HL70357|E||||unit 'x' not convertible"
    )
    parsed = parse_ack(ack)
    assert [field(parsed, "ERR", 2, c) for c in (1, 2, 3)] == ["OBX", "2", "6"]


@pytest.mark.parametrize("version", ["2.3", "2.4"])
def test_before_v25_the_location_leads_err1(version: str) -> None:
    ack = build_ack(
        replace(SENDER, version=version), "AE", text="no unit",
        error=RejectionCode.MISSING_UNIT, location=ErrorLocation("OBX", 3, 6),
        control_id="A", now=NOW,
    )  # fmt: skip
    assert _err(ack) == "ERR|OBX^3^6^101&Required field missing&HL70357"
    whole = build_ack(
        replace(SENDER, version=version), "AE", text="?",
        error=RejectionCode.OTHER_SAMPLES_RESULT, location=ErrorLocation("OBX", 1),
        control_id="A", now=NOW,
    )  # fmt: skip
    assert _err(whole) == "ERR|OBX^1^^205&Duplicate key identifier&HL70357"
