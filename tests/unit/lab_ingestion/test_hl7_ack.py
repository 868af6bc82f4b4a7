"""HL7 v2 ACKs built by the codec: MSH, MSA, ERR by version, escaping and lengths."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import (
    Header,
    build_ack,
    parse_oru,
)
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.hl7_samples import (
    FAST,
)
from tests.unit.lab_ingestion.test_hl7_codec import V231

# --- ACK ----------------------------------------------------------------------------------

SENDER = Header(
    sending_application="LABSYS",
    sending_facility="NORTHLAB",
    receiving_application="LENA-CCS",
    receiving_facility="TRIAL",
    control_id="CTRL-0001",
    version="2.4",
    trigger="R01",
    processing_id="T",
)
SENDER_25 = replace(SENDER, version="2.5.1")
NOW = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)


def parse_ack(ack: str) -> hl7.Message:
    assert ack.endswith("\r")
    assert "\n" not in ack
    return hl7.parse(ack)


def field(message: hl7.Message, segment: str, number: int, component: int = 1) -> str:
    return str(message.segment(segment).extract_field(1, number, 1, component))


@pytest.mark.parametrize("code", ["AA", "AE", "AR"])
def test_ack_msa_echoes_code_and_inbound_control_id(code: str) -> None:
    error = None if code == "AA" else RejectionCode.UNCONVERTIBLE_UNIT
    ack = build_ack(SENDER, code, text="why", error=error, control_id="ACK-1", now=NOW)
    parsed = parse_ack(ack)
    assert len(parsed.segments("MSA")) == 1
    assert field(parsed, "MSA", 1) == code
    assert field(parsed, "MSA", 2) == "CTRL-0001"
    assert field(parsed, "MSA", 3) == "why"
    assert str(parsed[0][0]) == "MSH"
    assert str(parsed[1][0]) == "MSA"


def test_ack_header_swaps_sender_and_receiver() -> None:
    ack = build_ack(SENDER, "AA", control_id="ACK-1", now=NOW)
    parsed = parse_ack(ack)
    assert field(parsed, "MSH", 3) == "LENA-CCS"
    assert field(parsed, "MSH", 4) == "TRIAL"
    assert field(parsed, "MSH", 5) == "LABSYS"
    assert field(parsed, "MSH", 6) == "NORTHLAB"
    assert field(parsed, "MSH", 7) == "20261102090000+0000"
    assert field(parsed, "MSH", 9, 1) == "ACK"
    assert field(parsed, "MSH", 9, 2) == "R01"
    assert field(parsed, "MSH", 10) == "ACK-1"
    assert field(parsed, "MSH", 11) == "T"
    assert field(parsed, "MSH", 12) == "2.4"


def test_ack_err_absent_for_aa_present_for_ae_and_ar() -> None:
    aa = parse_ack(build_ack(SENDER_25, "AA", text="ok", control_id="A", now=NOW))
    with pytest.raises(KeyError):
        aa.segment("ERR")
    ae = parse_ack(
        build_ack(SENDER_25, "AE", text="bad unit", error=RejectionCode.UNCONVERTIBLE_UNIT,
                  control_id="A", now=NOW)
    )  # fmt: skip
    assert field(ae, "ERR", 3, 1) == "103"
    assert field(ae, "ERR", 3, 3) == "HL70357"
    assert field(ae, "ERR", 4) == "E"
    assert field(ae, "ERR", 8) == "bad unit"
    ar = parse_ack(
        build_ack(SENDER_25, "AR", text="who?", error=RejectionCode.UNKNOWN_SOURCE,
                  control_id="A", now=NOW)
    )  # fmt: skip
    assert field(ar, "ERR", 3, 1) == "204"
    assert len(ar.segments("ERR")) == 1


@pytest.mark.parametrize(
    ("error", "hl7_code"),
    [
        (RejectionCode.MALFORMED, "100"),
        (RejectionCode.UNSUPPORTED_MESSAGE, "200"),
        (RejectionCode.UNKNOWN_SOURCE, "204"),
        (RejectionCode.MISSING_PATIENT, "101"),
        (RejectionCode.MISSING_COLLECTION_TIME, "101"),
        (RejectionCode.MISSING_UNIT, "101"),
        (RejectionCode.UNKNOWN_ANALYTE, "103"),
        (RejectionCode.UNCONVERTIBLE_UNIT, "103"),
        (RejectionCode.UNKNOWN_STATUS, "103"),
        (RejectionCode.NON_NUMERIC_VALUE, "102"),
        (RejectionCode.UNKNOWN_CORRECTED_RESULT, "204"),
        (RejectionCode.OTHER_PATIENTS_RESULT, "205"),
        (RejectionCode.CENSORED_VALUE, "102"),
        (RejectionCode.MULTIPLE_PATIENTS, "100"),
    ],
)
def test_ack_err_code_per_rejection(error: RejectionCode, hl7_code: str) -> None:
    parsed = parse_ack(build_ack(SENDER_25, "AE", text="x", error=error, control_id="A", now=NOW))
    assert field(parsed, "ERR", 3, 1) == hl7_code
    legacy = parse_ack(build_ack(SENDER, "AE", text="x", error=error, control_id="A", now=NOW))
    assert err1_code(legacy)[0] == hl7_code


@pytest.mark.parametrize(
    "reason",
    [
        "unit 'mg|dL' not convertible",
        "a^b&c~d\\e|f",
        "\\F\\ literally",
        "||||",
        "^^^",
        "~",
        "\\",
        "line one\rline two\nline three",
    ],
)
def test_ack_reason_with_delimiters_keeps_structure(reason: str) -> None:
    ack = build_ack(SENDER_25, "AE", text=reason, error=RejectionCode.MALFORMED,
                    control_id="A", now=NOW)  # fmt: skip
    parsed = parse_ack(ack)
    assert [str(s[0]) for s in parsed] == ["MSH", "MSA", "ERR"]
    expected = reason.replace("\r", " ").replace("\n", " ")
    assert field(parsed, "MSA", 3) == expected
    assert field(parsed, "ERR", 8) == expected
    assert len(parsed.segment("MSA")) == 4  # MSA + three fields: nothing leaked out of MSA-3


@FAST
@given(reason=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_ack_reason_round_trips_through_hl7_parse(reason: str) -> None:
    ack = build_ack(SENDER, "AE", text=reason, error=RejectionCode.NON_NUMERIC_VALUE,
                    control_id="A", now=NOW)  # fmt: skip
    parsed = parse_ack(ack)
    assert [str(s[0]) for s in parsed] == ["MSH", "MSA", "ERR"]
    assert field(parsed, "MSA", 1) == "AE"
    assert field(parsed, "MSA", 2) == "CTRL-0001"
    assert field(parsed, "MSA", 3) == reason.replace("\r", " ").replace("\n", " ")


def test_ack_long_reason_is_truncated_to_a_prefix() -> None:
    reason = "x" * 198 + "|^&~\\" * 20
    parsed = parse_ack(
        build_ack(SENDER, "AE", text=reason, error=RejectionCode.MALFORMED, control_id="A")
    )
    msa3 = field(parsed, "MSA", 3)
    assert msa3 == reason[:77] + "..."
    assert [str(s[0]) for s in parsed] == ["MSH", "MSA", "ERR"]


def raw_field(ack: str, segment: str, number: int) -> str:
    line = next(line for line in ack.split("\r") if line.startswith(segment + "|"))
    return line.split("|")[number]


@pytest.mark.parametrize("sender", [SENDER, SENDER_25], ids=["2.4", "2.5.1"])
@pytest.mark.parametrize(
    ("reason", "expected_raw"),
    [
        ("x" * 76 + "|tail", "x" * 76 + "\\F\\..."),  # the delimiter at the cut kept whole
        ("x" * 80 + "|tail", "x" * 77 + "..."),
        ("x" * 199 + "|", "x" * 77 + "..."),  # escaping first then cutting left "x...x\\"
        ("é" * 100, "é" * 77 + "..."),
        ("x" * 80, "x" * 80),  # what fits is not cut
    ],
)
def test_msa3_is_cut_at_80_characters_before_escaping(
    sender: Header, reason: str, expected_raw: str
) -> None:
    """Without a blank to cut at, within the word (``shortened``)."""
    ack = build_ack(sender, "AE", text=reason, error=RejectionCode.MALFORMED,
                    control_id="A", now=NOW)  # fmt: skip
    assert raw_field(ack, "MSA", 3) == expected_raw
    kept = reason if len(reason) <= 80 else reason[:77] + "..."
    assert field(parse_ack(ack), "MSA", 3) == kept


def test_err8_is_cut_before_escaping_too() -> None:
    reason = "x" * 199 + "|" + "y" * 10
    ack = build_ack(SENDER_25, "AE", text=reason, error=RejectionCode.MALFORMED,
                    control_id="A", now=NOW)  # fmt: skip
    assert raw_field(ack, "ERR", 8) == "x" * 199 + "\\F\\"
    assert field(parse_ack(ack), "ERR", 8) == reason[:200]


def err1_code(parsed: hl7.Message) -> tuple[str, str, str]:
    """ERR-1.4 (code identifying error, a CE written as sub-components) of a v2.3/2.4 ACK."""
    err = parsed.segment("ERR")
    return (
        str(err.extract_field(1, 1, 1, 4, 1)),
        str(err.extract_field(1, 1, 1, 4, 2)),
        str(err.extract_field(1, 1, 1, 4, 3)),
    )


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4"])
def test_ack_before_v25_writes_err1(version: str) -> None:
    header = replace(SENDER, version=version)
    ack = build_ack(header, "AE", text="unit 'x' not convertible",
                    error=RejectionCode.UNCONVERTIBLE_UNIT, control_id="A", now=NOW)  # fmt: skip
    err = next(line for line in ack.split("\r") if line.startswith("ERR"))
    assert err == "ERR|^^^103&Table value not found&HL70357"
    parsed = parse_ack(ack)
    assert err1_code(parsed) == ("103", "Table value not found", "HL70357")
    assert field(parsed, "MSH", 12) == version
    assert field(parsed, "MSA", 3) == "unit 'x' not convertible"


@pytest.mark.parametrize(
    ("version", "message_type"),
    [("2.3", "ACK^R01"), ("2.3.1", "ACK^R01^ACK"), ("2.5.1", "ACK^R01^ACK")],
)
def test_msh9_has_the_components_of_the_version(version: str, message_type: str) -> None:
    """v2.3's MSH-9 is type ^ trigger; the message structure came with v2.3.1."""
    ack = build_ack(replace(SENDER, version=version), "AA", control_id="A", now=NOW)
    assert raw_field(ack, "MSH", 8) == message_type  # MSH-9: the 8th after the separator


def test_ack_before_v25_without_error_code_is_internal_error() -> None:
    parsed = parse_ack(build_ack(SENDER, "AR", text="?", control_id="A", now=NOW))
    assert err1_code(parsed) == ("207", "Application internal error", "HL70357")


@pytest.mark.parametrize("version", ["2.5", "2.5.1", ""])
def test_ack_from_v25_writes_err3_err4_err8(version: str) -> None:
    header = replace(SENDER, version=version)
    ack = build_ack(header, "AE", text="no unit", error=RejectionCode.MISSING_UNIT,
                    control_id="A", now=NOW)  # fmt: skip
    err = next(line for line in ack.split("\r") if line.startswith("ERR"))
    assert err == "ERR|||101^Required field missing^HL70357|E||||no unit"


@pytest.mark.parametrize(
    "control_id", ["A|B", "A^B", "A&B", "A~B", "A\\B", "|^~\\&", "CTRL 42 é ✓"]
)
def test_ack_escapes_control_id_and_sender(control_id: str) -> None:
    header = Header(
        sending_application="APP|X^Y",
        sending_facility="FAC~Z&W",
        control_id=control_id,
        version="2.5.1",
    )
    parsed = parse_ack(build_ack(header, "AR", text="r", error=RejectionCode.MALFORMED,
                                 control_id="A", now=NOW))  # fmt: skip
    assert field(parsed, "MSA", 2) == control_id
    assert field(parsed, "MSH", 5) == "APP|X^Y"
    assert field(parsed, "MSH", 6) == "FAC~Z&W"
    assert field(parsed, "MSH", 12) == "2.5.1"


def test_ack_without_header_is_still_valid_with_empty_msa2() -> None:
    parsed = parse_ack(build_ack(None, "AR", text="garbage", error=RejectionCode.MALFORMED,
                                 control_id="A1"))  # fmt: skip
    assert field(parsed, "MSA", 1) == "AR"
    assert field(parsed, "MSA", 2) == ""
    assert field(parsed, "MSA", 3) == "garbage"
    assert field(parsed, "MSH", 10) == "A1"
    assert field(parsed, "MSH", 12) == "2.5.1"
    assert field(parsed, "MSH", 9, 2) == "R01"


def test_ack_from_parsed_header_round_trip() -> None:
    _, header = parse_oru(V231)
    parsed = parse_ack(build_ack(header, "AA", text="ok", control_id="Z9", now=NOW))
    assert field(parsed, "MSA", 2) == "MSG231-77"
    assert field(parsed, "MSH", 5) == "LABSYS"
    assert field(parsed, "MSH", 6) == "EASTLAB"
    assert field(parsed, "MSH", 12) == "2.3.1"
