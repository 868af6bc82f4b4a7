"""HL7 v2 codec: ORU^R01 parsing (v2.3-2.5.1), ACK building and PHI redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import (
    Header,
    Hl7InputError,
    build_ack,
    parse_oru,
    parse_ts,
    read_header,
    redact,
    silence_library_logging,
)
from services.lab_ingestion.domain.model import Coding, RejectionCode
from shared.contracts.events.lab import Channel

FAST = settings(max_examples=200, deadline=None)
HASH = "h" * 64


def fake_hash(_: str) -> str:
    return HASH


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment with ``fields`` (1-based field number -> raw ER7 text) and blanks between."""
    last = max(fields)
    return "|".join([name, *(fields.get(i, "") for i in range(1, last + 1))])


def msh(
    app: str = "LABSYS",
    facility: str = "NORTHLAB",
    control_id: str = "CTRL0001",
    version: str = "2.5.1",
    message_type: str = "ORU^R01^ORU_R01",
    extra: dict[int, str] | None = None,
) -> str:
    """MSH-1 is the field separator itself, so MSH-n sits at list position n - 1."""
    fields = {
        3: app,
        4: facility,
        5: "LENA-CCS",
        6: "TRIAL",
        7: "20261102091500+0000",
        9: message_type,
        10: control_id,
        11: "P",
        12: version,
        **(extra or {}),
    }
    last = max(fields)
    return "MSH|^~\\&|" + "|".join(fields.get(i, "") for i in range(3, last + 1))


def join(segments: list[str], sep: str = "\r") -> str:
    return sep.join(segments) + sep


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Realistic messages, one per supported version -------------------------------------------

V23 = join([
    msh("OLDLAB", "NORTHLAB", "MSG23-0001", "2.3", "ORU^R01"),
    seg("PID", {1: "1", 2: "EXT555", 3: "MRN23001^^^NORTHLAB^MR", 5: "SMITH^ANNA^M",
                7: "19581224", 8: "F"}),
    seg("OBR", {1: "1", 2: "PL23", 3: "FL23", 4: "CRP^C reactive protein^L",
                7: "200611020700-0500", 25: "F"}),
    seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 7: "0-5", 8: "H",
                11: "F"}),
])  # fmt: skip

V231 = join([
    msh("LABSYS", "EASTLAB", "MSG231-77", "2.3.1", "ORU^R01"),
    seg("PID", {1: "1", 3: "E77001^^^EASTLAB^MR", 5: "JONES^PAUL", 7: "19700304", 8: "M"}),
    seg("PV1", {1: "1", 2: "O", 3: "ONC^^^EAST"}),
    seg("ORC", {1: "RE", 2: "PL231", 3: "FL231"}),
    seg("OBR", {1: "1", 2: "PL231", 3: "FL231", 4: "HAEM^Haematology^L",
                7: "20261102063000+0000"}),
    seg("OBX", {1: "1", 2: "NM", 3: "718-7^Haemoglobin^LN", 5: "11.9", 6: "g/dL^^ISO+",
                7: "12.0-15.5", 8: "L", 11: "F"}),
    seg("NTE", {1: "1", 3: "Specimen slightly haemolysed"}),
])  # fmt: skip

V24 = join([
    msh("LIS", "WESTLAB", "2.4-CTRL-9", "2.4", "ORU^R01^ORU_R01"),
    seg("PID", {1: "1", 3: "W4711^^^WESTLAB^MR", 5: "BROWN^CARL", 7: "19621111", 8: "M"}),
    seg("OBR", {1: "1", 2: "PL24", 3: "FL24", 4: "LFT^Liver panel^L",
                7: "20261101230000+0100"}),
    seg("OBX", {1: "1", 2: "NM", 3: "1742-6^ALT^LN", 4: "1", 5: "41", 6: "U/L^units per litre^UCUM",
                7: "0-45", 11: "C", 14: "20261101224500+0100"}),
])  # fmt: skip

V25 = join([
    msh("CORELAB", "SOUTH", "M25-000123", "2.5", "ORU^R01^ORU_R01"),
    seg("SFT", {1: "Vendor Inc", 2: "5.2", 3: "CoreLab LIS", 4: "52001"}),
    seg("PID", {1: "1", 3: "S25999^^^SOUTH^MR", 5: "GARCIA^MARIA", 7: "19800512", 8: "F"}),
    seg("ORC", {1: "RE", 2: "PL25", 3: "FL25"}),
    seg("OBR", {1: "1", 2: "PL25", 3: "FL25", 4: "FBC^Full blood count^L",
                7: "20261102081000+0200"}),
    seg("OBX", {1: "1", 2: "NM", 3: "777-3^Platelets^LN", 5: "154", 6: "10*9/L^^UCUM",
                7: "150-400", 11: "P", 19: "20261102083000+0200"}),
])  # fmt: skip

V251 = join([
    msh("LABSYS", "NORTHLAB", "CTRL251-42", "2.5.1", "ORU^R01^ORU_R01",
        extra={21: "LRI_Common_Component^^2.16.840.1.113883.9.16^ISO"}),
    seg("SFT", {1: "Vendor Inc", 2: "7.0", 3: "LabSys", 4: "700"}),
    seg("PID", {1: "1", 3: "N251A^^^NORTHLAB^MR~X-999^^^OTHER^PI", 5: "NGUYEN^LE",
                7: "19751230", 8: "F"}),
    seg("ORC", {1: "RE", 2: "PL251", 3: "FL251"}),
    seg("OBR", {1: "1", 2: "PL251", 3: "FL251^NORTHLAB", 4: "CRP^CRP^L",
                7: "20261102075959.25+0000"}),
    seg("OBX", {1: "1", 2: "NM", 3: "1988-5^C reactive protein^LN^CRP^CRP local^L", 4: "1",
                5: "3.2", 6: "mg/L^milligram per litre^UCUM", 7: "<5", 11: "F"}),
    seg("SPM", {1: "1", 4: "BLD^Blood^HL70487"}),
])  # fmt: skip

VERSION_CASES = [
    pytest.param(
        V23, "2.3", "OLDLAB", "NORTHLAB", "MSG23-0001", "MRN23001",
        ("FL23|1988-5|", "1988-5", "12.5", ("mg/L",), "F", utc(2006, 11, 2, 12, 0)),
        id="2.3",
    ),
    pytest.param(
        V231, "2.3.1", "LABSYS", "EASTLAB", "MSG231-77", "E77001",
        ("FL231|718-7|", "718-7", "11.9", ("g/dL", "ISO+"), "F", utc(2026, 11, 2, 6, 30)),
        id="2.3.1",
    ),
    pytest.param(
        V24, "2.4", "LIS", "WESTLAB", "2.4-CTRL-9", "W4711",
        ("FL24|1742-6|1", "1742-6", "41", ("U/L", "units per litre", "UCUM"), "C",
         utc(2026, 11, 1, 21, 45)),
        id="2.4",
    ),
    pytest.param(
        V25, "2.5", "CORELAB", "SOUTH", "M25-000123", "S25999",
        ("FL25|777-3|", "777-3", "154", ("10*9/L", "UCUM"), "P", utc(2026, 11, 2, 6, 10)),
        id="2.5",
    ),
    pytest.param(
        V251, "2.5.1", "LABSYS", "NORTHLAB", "CTRL251-42", "N251A",
        ("FL251|1988-5|1", "1988-5", "3.2", ("mg/L", "milligram per litre", "UCUM"), "F",
         datetime(2026, 11, 2, 7, 59, 59, 250000, tzinfo=UTC)),
        id="2.5.1",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "version", "app", "facility", "control_id", "patient", "first"), VERSION_CASES
)
def test_parse_oru_realistic_message_per_version(
    text: str,
    version: str,
    app: str,
    facility: str,
    control_id: str,
    patient: str,
    first: tuple[str, str, str, tuple[str, ...], str, datetime],
) -> None:
    message, header = parse_oru(text, Channel.HL7_HTTP)

    assert header.version == version
    assert (header.sending_application, header.sending_facility) == (app, facility)
    assert (header.receiving_application, header.receiving_facility) == ("LENA-CCS", "TRIAL")
    assert header.control_id == control_id
    assert header.trigger == "R01"
    assert message.channel is Channel.HL7_HTTP
    assert message.source == f"{app}^{facility}"
    assert message.control_id == control_id
    assert message.patient_identifier == patient
    assert len(message.observations) == 1
    obs = message.observations[0]
    result_key, code, value, unit, status, collected = first
    assert obs.result_key == result_key
    assert obs.codes[0].code == code
    assert obs.value == value
    assert obs.unit == unit
    assert obs.status == status
    assert obs.collected_at == collected


def test_parse_oru_keeps_coding_system_display_and_alternate_code() -> None:
    message, _ = parse_oru(V251)
    obs = message.observations[0]
    assert obs.codes == (
        Coding("1988-5", "LN", "C reactive protein"),
        Coding("CRP", "L", "CRP local"),
    )
    assert obs.reference_range == "<5"
    assert obs.abnormal_flag is None


def test_parse_oru_reads_reference_range_flag_and_reported_time() -> None:
    message, _ = parse_oru(V23)
    assert message.observations[0].reference_range == "0-5"
    assert message.observations[0].abnormal_flag == "H"
    message, _ = parse_oru(V25)
    assert message.observations[0].reported_at == utc(2026, 11, 2, 6, 30)


# --- Several OBR/OBX groups ---------------------------------------------------------------

MULTI = join([
    msh(control_id="MULTI-1"),
    seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: "DOE^JANE"}),
    seg("OBR", {1: "1", 2: "PLA", 3: "FILL-A", 7: "20261102070000+0000"}),
    seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 4: "1", 5: "12.5", 6: "mg/L", 11: "F",
                14: "20261102071500+0100"}),
    seg("OBX", {1: "2", 2: "NM", 3: "1988-5^CRP^LN", 4: "2", 5: "13.0", 6: "mg/L", 11: "F"}),
    seg("NTE", {1: "1", 3: "repeat run"}),
    seg("OBR", {1: "2", 2: "PLB", 3: "FILL-B", 7: "20261102060000-0200"}),
    seg("OBX", {1: "1", 2: "NM", 3: "751-8^Neutrophils^LN", 5: "3.1", 6: "10*9/L", 11: "C"}),
    seg("OBX", {1: "2", 2: "NM", 3: "777-3^Platelets^LN", 5: "210", 6: "10*9/L", 11: "F",
                14: "20261102"}),
    seg("OBR", {1: "3", 2: "PLC", 7: "20261102"}),
    seg("OBX", {1: "1", 2: "NM", 3: "2160-0^Creatinine^LN", 5: "88", 6: "umol/L", 11: "X"}),
    seg("OBR", {1: "4"}),
    seg("OBX", {1: "1", 2: "NM", 3: "1975-2^Bilirubin^LN", 5: "9", 6: "umol/L", 11: "D"}),
])  # fmt: skip


def test_several_obr_groups_each_observation_keyed_and_timed_by_its_group() -> None:
    message, _ = parse_oru(MULTI)

    got = [(o.result_key, o.value, o.status, o.collected_at) for o in message.observations]
    assert got == [
        # OBX-14 wins over OBR-7 (and is converted to UTC)
        ("FILL-A|1988-5|1", "12.5", "F", utc(2026, 11, 2, 6, 15)),
        # no OBX-14: the OBR-7 of its own group
        ("FILL-A|1988-5|2", "13.0", "F", utc(2026, 11, 2, 7, 0)),
        ("FILL-B|751-8|", "3.1", "C", utc(2026, 11, 2, 8, 0)),
        # an unusable OBX-14 (date only) falls back to OBR-7
        ("FILL-B|777-3|", "210", "F", utc(2026, 11, 2, 8, 0)),
        # no filler order: the placer order; OBR-7 date only: no collection time
        ("PLC|2160-0|", "88", "X", None),
        # no filler nor placer: the OBR set id, and no time from the previous group
        ("4|1975-2|", "9", "D", None),
    ]


def test_result_keys_differ_by_order_code_and_sub_id() -> None:
    message, _ = parse_oru(MULTI)
    keys = [o.result_key for o in message.observations]
    assert len(set(keys)) == len(keys)


def test_message_without_obx_has_no_observations_and_without_pid_no_patient() -> None:
    message, header = parse_oru(join([msh(control_id="EMPTY-1")]))
    assert message.observations == ()
    assert message.patient_identifier is None
    assert header.control_id == "EMPTY-1"


def test_missing_obx_status_defaults_to_final() -> None:
    text = join([msh(), seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "1"})])
    message, _ = parse_oru(text)
    assert message.observations[0].status == "F"


# --- Repeating PID-3 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        ("MRN0042^^^NORTHLAB^MR~NHS9434765919^^^NHS^NH~X1^^^Y^PI", "MRN0042"),
        ("MRN0042~OTHER", "MRN0042"),
        ("  MRN0042  ^^^A^MR", "MRN0042"),
        ("MRN\\T\\42^^^A^MR", "MRN&42"),
        ("^^^NORTHLAB^MR~MRN0042", None),
        ("", None),
    ],
)
def test_patient_identifier_is_first_repetition_of_pid3(pid3: str, expected: str | None) -> None:
    text = join([msh(), seg("PID", {1: "1", 3: pid3, 5: "DOE^JANE"})])
    message, _ = parse_oru(text)
    assert message.patient_identifier == expected


# --- Escape sequences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A\\T\\B", "A&B"),
        ("A\\S\\B", "A^B"),
        ("A\\F\\B", "A|B"),
        ("A\\E\\B", "A\\B"),
        ("A\\R\\B", "A~B"),
        ("\\T\\\\S\\\\F\\\\E\\\\R\\", "&^|\\~"),
        ("<5 \\T\\ >1 \\F\\ see \\E\\note\\E\\", "<5 & >1 | see \\note\\"),
    ],
)
def test_escape_sequences_in_obx5_are_unescaped(raw: str, expected: str) -> None:
    text = join([
        msh(),
        seg("OBR", {1: "1", 3: "F1"}),
        seg("OBX", {1: "1", 2: "ST", 3: "X-1^Comment^L", 5: raw, 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    assert message.observations[0].value == expected
    assert message.observations[0].unit == ("mg/L",)  # the escape did not shift the fields


def test_escaped_delimiters_in_codes_and_units_are_unescaped() -> None:
    text = join([
        msh(app="LAB\\T\\CO", control_id="C\\S\\1"),
        seg("OBR", {1: "1", 3: "F\\F\\1"}),
        seg("OBX", {1: "1", 2: "NM", 3: "A\\T\\B^x^L", 5: "1", 6: "10\\S\\9/L"}),
    ])  # fmt: skip
    message, header = parse_oru(text)
    assert header.sending_application == "LAB&CO"
    assert header.control_id == "C^1"
    assert message.observations[0].result_key == "F|1|A&B|"
    assert message.observations[0].codes[0].code == "A&B"
    assert message.observations[0].unit == ("10^9/L",)


# --- Segment separators -------------------------------------------------------------------


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
@pytest.mark.parametrize("text", [V23, V231, V24, V25, V251, MULTI])
def test_segment_separators_parse_identically(text: str, sep: str) -> None:
    reference = parse_oru(text)
    variant = text.replace("\r", sep)
    assert parse_oru(variant) == reference
    # without the trailing separator too
    assert parse_oru(variant.rstrip("\r\n")) == reference


def test_crlf_message_keeps_every_group() -> None:
    message, _ = parse_oru(MULTI.replace("\r", "\r\n"))
    assert len(message.observations) == 6
    assert message.observations[-1].result_key == "4|1975-2|"


# --- Units --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obx6", "expected"),
    [
        ("mg/L", ("mg/L",)),
        ("mg/L^milligram per litre^UCUM", ("mg/L", "milligram per litre", "UCUM")),
        ("^^^mg/L^^L", ("mg/L", "L")),
        ("^^^mg/L", ("mg/L",)),
        ("", ()),
        ("^^", ()),
    ],
)
def test_unit_components(obx6: str, expected: tuple[str, ...]) -> None:
    text = join([msh(), seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "2", 6: obx6})])
    message, _ = parse_oru(text)
    assert message.observations[0].unit == expected


# --- Rejections ---------------------------------------------------------------------------


def test_non_oru_message_is_unsupported_with_header() -> None:
    text = join([
        msh("ADMIT", "WARD", "ADT-777", "2.5.1", "ADT^A01^ADT_A01"),
        seg("EVN", {1: "A01", 2: "20261102080000+0000"}),
        seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: "DOE^JANE"}),
    ])  # fmt: skip
    with pytest.raises(Hl7InputError) as info:
        parse_oru(text)
    assert info.value.code is RejectionCode.UNSUPPORTED_MESSAGE
    assert "ADT^A01" in info.value.reason
    assert info.value.header is not None
    assert info.value.header.control_id == "ADT-777"
    assert info.value.header.trigger == "A01"
    assert info.value.header.sending_application == "ADMIT"


@pytest.mark.parametrize("message_type", ["ORU^R30", "ORM^O01", "ORU", "^R01", ""])
def test_other_message_types_are_unsupported(message_type: str) -> None:
    with pytest.raises(Hl7InputError) as info:
        parse_oru(join([msh(control_id="T-1", message_type=message_type)]))
    assert info.value.code is RejectionCode.UNSUPPORTED_MESSAGE
    assert info.value.header is not None
    assert info.value.header.control_id == "T-1"


@pytest.mark.parametrize("version", ["2.6", "2.2", "2.7", "2.8", "3.0", "", "2.5.2"])
def test_unsupported_versions_are_rejected_with_header(version: str) -> None:
    with pytest.raises(Hl7InputError) as info:
        parse_oru(join([msh(control_id="V-1", version=version)]))
    assert info.value.code is RejectionCode.UNSUPPORTED_MESSAGE
    assert info.value.header is not None
    assert info.value.header.control_id == "V-1"
    assert info.value.header.version == version


def test_version_with_internationalisation_component_is_supported() -> None:
    _, header = parse_oru(join([msh(version="2.5.1^GBR^ISO3166")]))
    assert header.version == "2.5.1"


@pytest.mark.parametrize("control_id", ["", "   "])
def test_empty_control_id_is_malformed_with_header(control_id: str) -> None:
    with pytest.raises(Hl7InputError) as info:
        parse_oru(join([msh(app="EMPTYCTL", control_id=control_id)]))
    assert info.value.code is RejectionCode.MALFORMED
    assert "MSH-10" in info.value.reason
    assert info.value.header is not None
    assert info.value.header.sending_application == "EMPTYCTL"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \r\n",
        "hello world",
        "PID|1||MRN0042",
        "MSH",
        "MSH|^~",
        "\x0bMSH|^~\\&|A|B\x1c\r",
        "OBX|1|NM|1988-5||1\rMSH|^~\\&|A|B|C|D|||ORU^R01|X|P|2.5.1",
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08",
    ],
)
def test_garbage_is_malformed(text: str) -> None:
    with pytest.raises(Hl7InputError) as info:
        parse_oru(text)
    assert info.value.code is RejectionCode.MALFORMED


def test_hl7_input_error_is_a_value_error_carrying_the_reason() -> None:
    with pytest.raises(ValueError, match="MSH"):
        parse_oru("garbage")


def test_read_header_best_effort() -> None:
    header = read_header(V24.replace("\r", "\n"))
    assert header is not None
    assert (header.sending_application, header.control_id, header.version) == (
        "LIS",
        "2.4-CTRL-9",
        "2.4",
    )
    assert read_header("not hl7 at all") is None
    assert read_header("") is None


# --- Timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20261102083000+0000", utc(2026, 11, 2, 8, 30)),
        ("20261102083000+0130", utc(2026, 11, 2, 7, 0)),
        ("20261102083000-0500", utc(2026, 11, 2, 13, 30)),
        ("202611020830+0100", utc(2026, 11, 2, 7, 30)),
        ("2026110208+0000", utc(2026, 11, 2, 8, 0)),
        ("20261231233000-0100", utc(2027, 1, 1, 0, 30)),
        ("  20261102083000+0000  ", utc(2026, 11, 2, 8, 30)),
        ("20261102083000.5+0000", datetime(2026, 11, 2, 8, 30, 0, 500000, tzinfo=UTC)),
        ("20261102083000.1234-0500", datetime(2026, 11, 2, 13, 30, 0, 123400, tzinfo=UTC)),
        ("20261102083059.07+0000", datetime(2026, 11, 2, 8, 30, 59, 70000, tzinfo=UTC)),
    ],
)
def test_parse_ts_with_offset_is_aware_utc(value: str, expected: datetime) -> None:
    got = parse_ts(value)
    assert got == expected
    assert got is not None
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "20261102083000",  # no offset: ambiguous
        "20261102083000.25",  # fraction, still no offset
        "20261102",  # date only
        "20261102+0000",  # date only, even with an offset
        "202611",
        "2026",
        "20261332",  # invalid month
        "20261332083000+0000",  # invalid month with time
        "20260230083000+0000",  # 30 February
        "20261102250000+0000",  # hour 25
        "20261102086100+0000",  # minute 61
        "20261102083000.12345+0000",  # five fractional digits
        "2026-11-02T08:30:00Z",  # ISO, not HL7
        "",
        "   ",
        "not a date",
    ],
)
def test_parse_ts_unusable_values_are_none(value: str) -> None:
    assert parse_ts(value) is None


@pytest.mark.parametrize("value", ["20261102083000+2400", "20261102083000-9999"])
def test_parse_ts_out_of_range_offset_is_none(value: str) -> None:
    assert parse_ts(value) is None


def test_out_of_range_offset_in_obx14_only_loses_the_collection_time() -> None:
    text = join([
        msh(),
        seg("PID", {1: "1", 3: "MRN0042"}),
        seg("OBR", {1: "1", 3: "F1"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "3", 6: "mg/L", 11: "F",
                    14: "20261102083000+2400"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    assert message.observations[0].collected_at is None


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
    aa = parse_ack(build_ack(SENDER, "AA", text="ok", control_id="A", now=NOW))
    with pytest.raises(KeyError):
        aa.segment("ERR")
    ae = parse_ack(
        build_ack(SENDER, "AE", text="bad unit", error=RejectionCode.UNCONVERTIBLE_UNIT,
                  control_id="A", now=NOW)
    )  # fmt: skip
    assert field(ae, "ERR", 3, 1) == "103"
    assert field(ae, "ERR", 3, 3) == "HL70357"
    assert field(ae, "ERR", 4) == "E"
    assert field(ae, "ERR", 8) == "bad unit"
    ar = parse_ack(
        build_ack(SENDER, "AR", text="who?", error=RejectionCode.UNKNOWN_SOURCE,
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
        (RejectionCode.UNKNOWN_CORRECTED_RESULT, "207"),
    ],
)
def test_ack_err_code_per_rejection(error: RejectionCode, hl7_code: str) -> None:
    parsed = parse_ack(build_ack(SENDER, "AE", text="x", error=error, control_id="A", now=NOW))
    assert field(parsed, "ERR", 3, 1) == hl7_code


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
    ack = build_ack(SENDER, "AE", text=reason, error=RejectionCode.MALFORMED,
                    control_id="A", now=NOW)  # fmt: skip
    parsed = parse_ack(ack)
    assert [str(s[0]) for s in parsed] == ["MSH", "MSA", "ERR"]
    expected = reason.replace("\r", " ").replace("\n", " ")
    assert field(parsed, "MSA", 3) == expected
    assert field(parsed, "ERR", 8) == expected
    assert len(parsed.segment("MSA")) == 4  # MSA + three fields: nothing leaked out of MSA-3


@FAST
@given(reason=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60))
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
    assert 0 < len(msa3) <= 200
    assert reason.startswith(msa3)
    assert [str(s[0]) for s in parsed] == ["MSH", "MSA", "ERR"]


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


# --- Redaction ----------------------------------------------------------------------------

PHI = {
    "mrn": "MRN0042",
    "second_mrn": "NHS9434765919",
    "family": "DOEFAMILY",
    "given": "JANEGIVEN",
    "maiden": "MAIDENNAME",
    "birth": "19600101",
    "street": "1 MAIN STREET",
    "city": "SMALLTOWN",
    "postcode": "LS1 4AB",
    "home_phone": "0113-555-0100",
    "work_phone": "0113-555-0199",
    "ssn": "123-45-6789",
    "kin": "KINSMAN",
    "kin_phone": "0777-000-111",
}

PHI_PID = seg("PID", {
    1: "1",
    3: f"{PHI['mrn']}^^^NORTHLAB^MR~{PHI['second_mrn']}^^^NHS^NH",
    5: f"{PHI['family']}^{PHI['given']}^Q",
    6: f"{PHI['maiden']}",
    7: PHI["birth"],
    8: "F",
    11: f"{PHI['street']}^^{PHI['city']}^^{PHI['postcode']}^GB",
    13: PHI["home_phone"],
    14: PHI["work_phone"],
    19: PHI["ssn"],
})  # fmt: skip
OBX_LINES = [
    seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 4: "1", 5: "12.5", 6: "mg/L", 11: "F",
                14: "20261102071500+0100"}),
    seg("OBX", {1: "2", 2: "ST", 3: "X-1^Note^L", 5: "a \\T\\ b", 11: "F"}),
]  # fmt: skip
PHI_MESSAGE = [
    msh(control_id="PHI-1"),
    PHI_PID,
    seg("NK1", {1: "1", 2: f"{PHI['kin']}^JOHN", 3: "SPO", 5: PHI["kin_phone"]}),
    seg("NK1", {1: "2", 2: "OTHER^KIN", 3: "CHD"}),
    seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 7: "20261102070000+0000"}),
    *OBX_LINES,
]


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_redact_removes_every_identifying_value(sep: str) -> None:
    seen: list[str] = []

    def hasher(value: str) -> str:
        seen.append(value)
        return HASH

    out = redact(join(PHI_MESSAGE, sep), hasher)

    for name, value in PHI.items():
        assert value not in out, name
    assert seen == [PHI["mrn"]]  # keyed hash of the first PID-3 identifier only
    lines = out.split("\r")
    pid = next(line for line in lines if line.startswith("PID"))
    fields = pid.split("|")
    assert fields[3] == f"HMAC:{HASH}"
    for blanked in (5, 6, 7, 11, 13, 14, 19):
        assert fields[blanked] == "", blanked
    assert fields[8] == "F"  # sex is kept
    assert len(fields) == len(PHI_PID.split("|"))


def test_redact_drops_nk1_and_keeps_other_segments_unchanged() -> None:
    out = redact(join(PHI_MESSAGE), fake_hash)
    lines = out.split("\r")
    assert not any(line.startswith("NK1") for line in lines)
    assert [line[:3] for line in lines] == ["MSH", "PID", "OBR", "OBX", "OBX"]
    assert lines[0] == PHI_MESSAGE[0]
    assert lines[2] == PHI_MESSAGE[4]
    assert lines[3:] == OBX_LINES
    assert "\n" not in out


def test_redacted_message_still_parses_with_hashed_identifier() -> None:
    message, header = parse_oru(redact(join(PHI_MESSAGE), fake_hash))
    assert message.patient_identifier == f"HMAC:{HASH}"
    assert header.control_id == "PHI-1"
    assert [o.value for o in message.observations] == ["12.5", "a & b"]


@pytest.mark.parametrize(
    "text",
    [
        "PID",
        "PID|",
        "PID|1|",
        "PID|1||",
        "PID|1||MRN0042",
        "PID|1||^^^A^MR",
        "garbage\nPID|1||MRN0042|x|DOE^JANE\nNK1|1|KIN\nmore garbage",
        "",
    ],
)
def test_redact_short_and_unparseable_input(text: str) -> None:
    out = redact(text, fake_hash)
    assert "MRN0042" not in out
    assert "DOE" not in out
    assert "KIN" not in out


@FAST
@given(text=st.text())
def test_redact_never_raises_on_arbitrary_text(text: str) -> None:
    out = redact(text, fake_hash)
    assert isinstance(out, str)
    assert not any(line.startswith("NK1") for line in out.split("\r"))
    assert "\n" not in out


@FAST
@given(
    mrn=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=12),
    family=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=6, max_size=12),
    sep=st.sampled_from(["\r", "\n", "\r\n"]),
    noise=st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=20),
)
def test_redact_hides_generated_identifiers(mrn: str, family: str, sep: str, noise: str) -> None:
    text = join([
        msh(),
        seg("PID", {1: "1", 3: f"{mrn}^^^A^MR", 5: f"{family}^X", 7: "19600101"}),
        seg("NK1", {1: "1", 2: f"{family}^Y"}),
        seg("NTE", {1: "1", 3: noise.replace("|", "")}),
    ], sep)  # fmt: skip
    out = redact(text, fake_hash)
    pid = next(line for line in out.split("\r") if line.startswith("PID"))
    assert mrn not in pid
    assert family not in pid
    assert "19600101" not in pid
    assert not any(line.startswith("NK1") for line in out.split("\r"))


def test_redact_honours_declared_field_separator() -> None:
    text = (
        "MSH#^~\\&#LABSYS#NORTHLAB#LENA-CCS#TRIAL#20261102091500+0000##ORU^R01#SEP-1#P#2.5.1\r"
        "PID#1##MRN0042^^^NORTHLAB^MR##DOE^JANE##19600101#F\r"
        "OBX#1#NM#1988-5^CRP^LN##12.5#mg/L#####F\r"
    )
    message, _ = parse_oru(text)
    assert message.patient_identifier == "MRN0042"  # the parser reads the declared separator
    out = redact(text, fake_hash)
    assert "MRN0042" not in out
    assert "DOE" not in out
    assert "19600101" not in out


def test_python_hl7_does_not_log_field_contents_once_silenced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    silence_library_logging()
    message = (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1\r"
        "PID|1||SECRET\\Xzz\\42||DOE^JOHN\r"
        "OBR|1||O1|X|||20261120081500+0100\r"
        "OBX|1|NM|1988-5^CRP^LN||12\\Xzz\\|mg/L|||||F|||20261120081500+0100\r"
    )
    with caplog.at_level("DEBUG"):
        parse_oru(message)
    assert "SECRET" not in caplog.text  # python-hl7 would log the hospital identifier
