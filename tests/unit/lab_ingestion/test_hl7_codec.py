"""HL7 v2 codec: ORU^R01 parsing (v2.3-2.5.1), ACK building and PHI redaction."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_ack import DATA_TYPE_ERROR, MSA3_LENGTH
from services.lab_ingestion.adapters.hl7_codec import (
    Hl7InputError,
    build_ack,
    parse_oru,
    parse_ts,
    read_header,
    redact,
)
from services.lab_ingestion.domain.model import Coding, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.entrypoints.outcomes import MESSAGE_REJECTIONS
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.hl7_samples import (
    FAST,
    fake_hash,
    join,
    msh,
    seg,
    utc,
)

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
    seg("PID", {1: "1", 3: "N251A^^^NORTHLAB^MR~X-999^^^OTHER^VN", 5: "NGUYEN^LE",
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
        # a date alone in OBX-14: OBR-7 of that day where the date is written (review 119)
        ("FILL-B|777-3|", "210", "F", utc(2026, 11, 2, 8, 0)),
        # no filler order: the placer order; OBR-7 date only: no collection time
        ("PLC|2160-0|", "88", "X", None),
        # no filler nor placer: never the OBR set id; no time from the previous group
        ("@|1975-2|", "9", "D", None),
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


def test_missing_obx_status_stays_empty_for_the_service_to_reject() -> None:
    text = join([msh(), seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "1"})])
    message, _ = parse_oru(text)
    assert message.observations[0].status == ""


# --- Repeating PID-3 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        ("MRN0042^^^NORTHLAB^MR~NHS9434765919^^^NHS^NH", "MRN0042"),  # a national number
        ("MRN0042~OTHER", None),  # two numbers of one (no) authority: which is unknown
        ("  MRN0042  ^^^A^MR", "MRN0042"),
        ("MRN\\T\\42^^^A^MR", "MRN&42"),
        ("NHS9434765919^^^NHS^NH~MRN0042^^^NORTHLAB^MR", "MRN0042"),
        ("X1^^^Y^PI~MRN0042^^^Y^MR", "MRN0042"),  # one authority: its MR
        ("MRN0042^^^A^MR~MRN0042^^^B^MR", "MRN0042"),  # one number, two authorities
        ("MRN0042^^^A^MR~MRN0043^^^A^MR", None),  # one authority's two MRs: ambiguous
        ("MRN0042^^^A^MR~756.1", "MRN0042"),  # beside an MR, untyped numbers do not count
        ("NHS9434765919^^^^NH~X1^^^^PI", "X1"),  # a national number is never the patient's
        ("NHS9434765919^^^NHS^NH~X1^^^Y^PI", "X1"),
        ("55555^^^HOSP^AN", None),  # an account number alone: no patient number
        # numbers of several authorities: only the sender's configured authority may choose
        ("X1^^^Y^PI~MRN0042^^^A^MR", None),  # the lab's own number beside the hospital's
        ("4711^^^REGION^MR~8150^^^HOSP^PI", None),
        ("MRN0042^^^A^MR~MRN0043^^^^MR", None),  # no authority is not A's
        ("^^^HOSP^MR~4711^^^REGION^MR", None),  # the hospital's MR is empty: not REGION's
        ("MRN0042^^^HOSP&1.2.3&ISO^MR~MRN0043^^^&1.2.3&ISO^MR", None),  # one authority's two
        ("MRN0042^^^HOSP&1.2.3&ISO^MR~MRN0042^^^&1.2.3&ISO^PI", "MRN0042"),
        # without an MR, two numbers of one authority are ambiguous whatever their types: the
        # hospital's PT beside the laboratory's PI, a temporary beside an enterprise number
        ("HOSPNUM^^^^PT~LABNUM^^^^PI", None),
        ("111^^^HOSP^MRT~222^^^HOSP^PE", None),
        ("111^^^HOSP^XYZ~222^^^HOSP^PI", None),  # a local code's number counts as well
        ("X1^^^Y^PI~X1^^^Y^PT", "X1"),  # one number, two types
        ("MRN0042^^^A^PNT", "MRN0042"),  # a temporary living subject number
        ("^^^HOSP^PI~123^^^HOSP", None),  # an empty PI: the number may be missing
        ("123^^^^PI~^^^^PT", None),  # an empty PT naming no authority: missing too
        ("^^^^MR~123^^^^MR", None),  # an empty MR beside another MR: missing
        ("^^^HOSP^MR~123^^^HOSP^MR", None),
        ("~X1^^^Y^PI", "X1"),
        ('""^^^A^MR~X1^^^A^PI', None),  # HL7's explicit null: an empty MR, never X1
        # an empty MR is no identifier: never an untyped, account or visit number instead
        ("^^^NORTHLAB^MR~MRN0042", None),
        ("^^^HOSP^MR~55555^^^HOSP^AN", None),
        ("55555^^^HOSP^AN~MRN0042^^^HOSP^mr", "MRN0042"),  # the type in any case
        ("^^^A^MR~^^^B^PI", None),
        ("", None),
    ],
)
def test_patient_identifier_is_the_mr_repetition_of_pid3(pid3: str, expected: str | None) -> None:
    text = join([msh(), seg("PID", {1: "1", 3: pid3, 5: "DOE^JANE"})])
    message, _ = parse_oru(text)
    assert message.patient_identifier == expected


@pytest.mark.parametrize(
    ("pid3", "candidates"),
    [
        ("MRN0042^^^NORTHLAB^MR", [("MRN0042", "NORTHLAB", "MR", "")]),
        ("MRN0042", [("MRN0042", "", "", "")]),
        # CX-4's universal id beside (or without) its namespace id
        (
            "MRN0042^^^HOSP&2.16.840.1.113883.3.42&ISO^MR",
            [("MRN0042", "HOSP", "MR", "2.16.840.1.113883.3.42")],
        ),
        (
            "X1^^^Y^PI~MRN0042^^^A^MR~^^^C^MR~MRN0043^^^B^mr",  # an empty MR names C
            [
                ("X1", "Y", "PI", ""),
                ("MRN0042", "A", "MR", ""),
                ("", "C", "MR", ""),
                ("MRN0043", "B", "MR", ""),
            ],
        ),
        # national, account and visit numbers are no patient numbers; an empty repetition
        ("NHS1^^^NHS^NH~~X1^^^Y^PI~A1^^^H^AN~V1^^^H^VN", [("X1", "Y", "PI", "")]),
    ],
)
def test_pid3_numbers_are_kept_with_their_types_and_authorities(
    pid3: str, candidates: list[tuple[str, str, str, str]]
) -> None:
    text = join([msh(), seg("PID", {1: "1", 3: pid3, 5: "DOE^JANE"})])
    message, _ = parse_oru(text)
    found = [
        (c.value, c.authority, c.kind, c.alternate_authority) for c in message.identifier_candidates
    ]
    assert found == candidates


def test_a_pid3_of_thousands_of_repetitions_is_rejected_at_once() -> None:
    text = join([msh(), seg("PID", {1: "1", 3: "~".join(['"1"'] * 4000)})])
    with pytest.raises(Hl7InputError) as info:
        parse_oru(text)
    assert info.value.code is RejectionCode.MALFORMED and "4000" in info.value.reason


def test_pid3_numbers_of_patient_number_types_only_and_common_spellings() -> None:
    pid3 = "1^^^A^MRN~2^^^B^U~3^^^C^SS~4^^^D^XX"
    message, _ = parse_oru(join([msh(), seg("PID", {1: "1", 3: pid3})]))
    assert [(c.value, c.kind) for c in message.identifier_candidates] == [("1", "MR"), ("2", "")]


def test_every_pid3_number_is_masked_in_the_message_id_whatever_its_type() -> None:
    pid3 = "8150^^^HOSP^MR~4711^^^REGION^AN"
    text = join([msh(control_id="C-8150-4711"), seg("PID", {1: "1", 3: pid3})])
    hashes = {"8150": "a" * 64, "4711": "b" * 64}
    message, _ = parse_oru(text, identify=hashes.__getitem__)
    assert message.control_id == f"C-#{'a' * 12}-#{'b' * 12}"


@pytest.mark.parametrize(
    "pid3",
    [
        "M\\XC39C\\LLER1^^^HOSP^MR",  # UTF-8 in hex escapes, as the sender's bytes
        "M\\XC3\\\\X9C\\LLER1^^^HOSP^MR",  # one byte an escape
        "M\\Xc39c\\LLER1^^^HOSP^MR",
        "MÜLLER1^^^HOSP^MR",  # as raw UTF-8
    ],
)
def test_a_pid3_number_in_hex_escapes_reads_as_utf8_as_the_enrolled_number(pid3: str) -> None:
    """The enrolment hashes MÜLLER1: read one byte a character (MÃ\\x9cLLER1), the number
    hashed to another and the enrolled patient's result was discarded as not enrolled."""
    message, _ = parse_oru(join([msh(), seg("PID", {1: "1", 3: pid3})]))
    assert message.patient_identifier == "MÜLLER1"
    assert [c.value for c in message.identifier_candidates] == ["MÜLLER1"]


def test_a_pid3_type_and_authority_in_hex_escapes_read_as_utf8() -> None:
    pid3 = "4711^^^H\\XC394\\PITAL&1.2.\\X33\\&ISO^\\X4D52\\"
    message, _ = parse_oru(join([msh(), seg("PID", {1: "1", 3: pid3})]))
    found = [(c.value, c.authority, c.kind, c.alternate_authority)
             for c in message.identifier_candidates]  # fmt: skip
    assert found == [("4711", "HÔPITAL", "MR", "1.2.3")]


def test_a_pid3_number_in_hex_escapes_is_masked_in_the_message_id_as_it_reads_there() -> None:
    """The message id is read one byte a character (as before, so that a resend still finds
    its message): the number is masked in it in that reading too."""
    text = join([msh(control_id="C-M\\XC39C\\LLER1"),
                 seg("PID", {1: "1", 3: "M\\XC39C\\LLER1^^^HOSP^MR"})])  # fmt: skip
    message, _ = parse_oru(text, identify=lambda number: "a" * 64)
    assert message.patient_identifier == "MÜLLER1"
    assert message.control_id == f"C-#{'a' * 12}"


def test_an_order_number_built_from_the_patients_number_is_masked_in_the_result_key() -> None:
    obr = seg("OBR", {1: "1", 2: "4711815-0001", 3: "4711815-0001", 4: "1988-5^CRP^LN"})
    obx = seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "7", 6: "mg/L", 11: "F",
                      14: "20261120081500+0100"})  # fmt: skip
    text = join([msh(), seg("PID", {1: "1", 3: "4711815^^^HOSP^MR"}), obr, obx])
    message, _ = parse_oru(text, identify=lambda number: "a" * 64)
    assert [o.result_key for o in message.observations] == [f"#{'a' * 12}-0001|1988-5|"]


def test_numbers_of_several_authorities_are_masked_in_the_message_id_and_keys_left_unscoped() -> (
    None
):
    pid3 = "4711^^^REGION^MR~8150^^^HOSP^MR"
    header = msh(control_id="R-8150-4711-1")
    obx = seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "7", 6: "mg/L", 11: "F",
                      14: "20261120081500+0100"})  # fmt: skip
    text = join([header, seg("PID", {1: "1", 3: pid3}), seg("OBR", {1: "1"}), obx])
    hashes = {"8150": "a" * 64, "4711": "b" * 64}
    message, _ = parse_oru(text, identify=hashes.__getitem__)
    assert message.patient_identifier is None
    assert message.control_id == f"R-#{'a' * 12}-#{'b' * 12}-1"
    # no patient could be chosen: the key is scoped once the sender's authority chooses
    assert message.observations[0].result_key.startswith("@")
    assert message.observations[0].result_key.count("|") == 2


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
    # a control id holding a separator is kept escaped: never the id of MSH-10 `C^1`
    assert header.control_id == "C\\S\\1"
    assert message.observations[0].result_key == "F|1|A&B|"
    assert message.observations[0].codes[0].code == "A&B"
    assert message.observations[0].unit == ("10^9/L",)


def _trial_result(obx: dict[int, str]) -> str:
    """One CRP result (12.5 mg/L) with ``obx``'s fields instead."""
    fields = {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 11: "F", **obx}
    return join([
        msh(),
        seg("PID", {3: "MRN1^^^H^MR"}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "20261102080000+0000"}),
        seg("OBX", fields),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("obx", "what"),
    [
        ({5: "1\\2.5"}, "never closed"),  # was read as 1: the rest cut off
        ({5: "1\\XZZ\\2.5"}, "no pairs of hex digits"),  # was 12.5
        ({5: "1\\X4\\2"}, "no pairs of hex digits"),  # was 1, chr(4), 2
        ({5: "1\\Q\\2.5"}, "HL7 does not define"),  # was 12.5
        ({5: "1\\Zab\\2.5"}, "HL7 does not define"),  # a local escape: no meaning here
        ({5: "1\\C2842\\2.5"}, "character set switch"),
        ({5: "1\\\\2.5"}, "empty escape"),  # was 12.5
        ({2: "SN", 5: "^1\\Q\\2.5"}, "HL7 does not define"),
        ({5: "12.5~1\\Q\\2"}, "HL7 does not define"),
        ({6: "m\\Q\\g/L"}, "HL7 does not define"),  # was mg/L
        ({6: "mg/L^mg\\"}, "never closed"),
        ({6: "mg/L~\\Q\\mg/dL"}, "HL7 does not define"),
        ({7: "0-5\\Q\\0"}, "HL7 does not define"),  # was 0-50
        ({8: "L\\Q\\L"}, "HL7 does not define"),  # was LL
        ({8: "H~<\\"}, "never closed"),
    ],
)
def test_an_escape_hl7_does_not_define_in_a_trial_results_number_is_malformed(
    obx: dict[int, str], what: str
) -> None:
    """python-hl7 drops an escape it cannot read (only logging it), so the digits around it
    were joined or cut (CRP ``1\\Q\\2.5`` stored as 12.5 mg/L). In a trial result's value,
    unit, range or flag the message is malformed, as for an escape python-hl7 raises on; the
    reason names the field, never its text."""
    with pytest.raises(Hl7InputError) as info:
        parse_oru(_trial_result(obx))
    assert info.value.code is RejectionCode.MALFORMED
    field = max(obx)  # the field holding the escape
    assert f"OBX-{field}" in info.value.reason and what in info.value.reason
    assert obx[field] not in info.value.reason
    assert len(info.value.reason) <= MSA3_LENGTH  # the ACK's MSA-3 holds all of it
    assert info.value.header is not None  # answered AR, echoing MSH-10


def _trial_order(obr: dict[int, str], obx: dict[int, str]) -> str:
    """One CRP result (12.5 mg/L) with ``obr``'s and ``obx``'s fields instead."""
    fields = {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 11: "F", **obx}
    return join([
        msh(),
        seg("PID", {3: "MRN1^^^H^MR"}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "20261102080000+0000", **obr}),
        seg("OBX", fields),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("obr", "obx", "where"),
    [
        ({}, {2: "N\\Q\\M"}, "OBX-2"),
        ({}, {3: "1988\\Q\\-5^CRP^LN"}, "OBX-3"),  # was read as CRP's code
        ({}, {3: "1988-5^CRP^L\\Q\\N"}, "OBX-3"),
        ({}, {3: "X1^Local^L^1988-5^CRP^L\\Zab\\N"}, "OBX-3"),  # the alternate code's system
        ({}, {4: "1\\Q\\2"}, "OBX-4"),  # the key of another sub-id
        ({}, {11: "\\Q\\F"}, "OBX-11"),
        ({}, {11: "C\\.fi\\"}, "OBX-11"),
        ({}, {14: "202611\\Q\\02080000+0000"}, "OBX-14"),  # was read as another time
        ({}, {14: "2026110\\.nf\\2080000+0000"}, "OBX-14"),
        ({3: "ORD\\Q\\1"}, {}, "OBR-3"),  # was order ORD1's key
        ({2: "PL\\Zx\\1", 3: ""}, {}, "OBR-2"),
        ({7: "2026110\\Q\\2080000+0000"}, {}, "OBR-7"),
        ({}, {5: "1\\.fi\\2.5"}, "OBX-5"),  # formatting read as nothing: was 12.5
        ({}, {5: "1\\.in-2\\2.5"}, "OBX-5"),
        ({}, {5: "1\\.sp0\\2.5"}, "OBX-5"),
        ({}, {7: "0-\\.nf\\50"}, "OBX-7"),  # was 0-50
    ],
)
def test_a_trial_results_code_times_status_and_order_are_read_strictly(
    obr: dict[int, str], obx: dict[int, str], where: str
) -> None:
    """python-hl7 drops an escape it cannot read and reads some formatting escapes as
    nothing: a code, a time, a status or an order number read through one is another than
    the lab wrote. In a trial result's, and its order's, the message is malformed."""
    with pytest.raises(Hl7InputError) as info:
        parse_oru(_trial_order(obr, obx))
    assert info.value.code is RejectionCode.MALFORMED
    assert info.value.reason.startswith(f"{where} holds "), info.value.reason
    assert len(info.value.reason) <= MSA3_LENGTH
    assert info.value.header is not None


def test_a_formatting_escape_that_reads_as_nothing_in_a_patient_number_is_malformed() -> None:
    with pytest.raises(Hl7InputError) as info:
        parse_oru(_crp_of("98765\\.fi\\4321^^^HOSP^MR"), identify=fake_hash)
    assert info.value.code is RejectionCode.MALFORMED
    assert "PID-3" in info.value.reason and "reads as nothing" in info.value.reason


def test_another_tests_order_and_fields_are_read_as_before() -> None:
    """Only a trial result's fields and its own order's are read strictly: a culture's
    order number, times and status with escapes python-hl7 drops leave the CRP of another
    order alone."""
    text = join([
        msh(),
        seg("OBR", {1: "1", 3: "C\\Q\\1", 7: "2026\\Q\\1102080000+0000"}),
        seg("OBX", {1: "1", 2: "ST", 3: "600-7^Culture^LN", 4: "\\Zx\\", 5: "NEG", 11: "F",
                    14: "2026\\.fi\\1102080000+0000"}),
        seg("OBR", {1: "2", 3: "ORD2", 7: "20261102080000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    culture, crp = message.observations
    assert culture.result_key == "C1|600-7|"
    assert (crp.result_key, crp.value) == ("ORD2|1988-5|", "12.5")


def _crp_of(pid3: str) -> str:
    """One CRP result of the patient whose PID-3 is ``pid3``."""
    return join([
        msh(),
        seg("PID", {3: pid3}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "20261102080000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip


@pytest.mark.parametrize(
    "pid3", ["98765\\Q\\4321^^^HOSP^MR", "987654321^^^HO\\Q\\SP^MR", "987654\\321^^^HOSP^MR"]
)
def test_an_escape_hl7_does_not_define_in_a_patient_number_is_malformed(pid3: str) -> None:
    """python-hl7 would drop it and join the digits around it: ``98765\\Q\\4321`` read as
    987654321, perhaps another enrolled patient's number. The message is never matched."""
    with pytest.raises(Hl7InputError) as info:
        parse_oru(_crp_of(pid3), identify=fake_hash)
    assert info.value.code is RejectionCode.MALFORMED
    assert "PID-3" in info.value.reason and "987654" not in info.value.reason


def test_a_defined_escape_in_a_patient_number_still_reads() -> None:
    message, _ = parse_oru(_crp_of("MRN\\T\\1^^^HOSP^MR"), identify=fake_hash)
    assert message.patient_identifier == "MRN&1"


@pytest.mark.parametrize(
    ("obx", "value", "unit", "reference", "flag"),
    [
        ({5: "1\\X2E\\5"}, "1.5", ("mg/L",), None, None),
        ({5: "\\.br\\12.5\\.sk2\\"}, "12.5", ("mg/L",), None, None),
        ({6: "mg\\X2F\\L"}, "12.5", ("mg/L",), None, None),
        ({6: "mg/L^milligram \\T\\ litre"}, "12.5", ("mg/L", "milligram & litre"), None, None),
        ({7: "\\XE289A4\\5", 8: "\\X48\\"}, "12.5", ("mg/L",), "\u22645", "H"),
        ({7: "0-5 \\H\\adult\\N\\"}, "12.5", ("mg/L",), "0-5 _adult_", None),
    ],
)
def test_defined_escapes_in_a_trial_result_are_still_read(
    obx: dict[int, str],
    value: str,
    unit: tuple[str, ...],
    reference: str | None,
    flag: str | None,
) -> None:
    message, _ = parse_oru(_trial_result(obx))
    (observation,) = message.observations
    assert (observation.value, observation.unit) == (value, unit)
    assert (observation.reference_range, observation.abnormal_flag) == (reference, flag)


def test_an_undefined_escape_outside_a_trial_results_number_is_read_as_before() -> None:
    """Only the fields a trial result's number is read from are read strictly: another
    test's value, and the trial result's code text, are read (and digested) as before."""
    text = join([
        msh(),
        seg("OBR", {1: "1", 3: "ORD1", 7: "20261102080000+0000"}),
        seg("OBX", {1: "1", 2: "ST", 3: "600-7^Culture^LN", 5: "POS\\Q\\", 6: "x\\", 11: "F"}),
        seg("OBX", {1: "2", 2: "NM", 3: "1988-5^C\\Q\\RP^LN", 5: "12.5", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    culture, crp = message.observations
    assert (culture.value, culture.unit) == ("POS", ("x",))
    assert (crp.value, crp.codes[0].display) == ("12.5", "CRP")


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
    assert message.observations[-1].result_key == "@|1975-2|"


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


# --- Result keys without an order number --------------------------------------------------


def crp_order(mrn: str, obr: dict[int, str], obx14: str = "", control_id: str = "K-1") -> str:
    return join([
        msh(control_id=control_id),
        seg("PID", {1: "1", 3: f"{mrn}^^^NORTHLAB^MR"}),
        seg("OBR", {1: "1", **obr}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12", 6: "mg/L", 11: "F",
                    14: obx14}),
    ])  # fmt: skip


def test_result_key_without_order_numbers_is_not_the_obr_set_id() -> None:
    first, _ = parse_oru(crp_order("MRN0001", {7: "20261102070000+0000"}))
    later, _ = parse_oru(crp_order("MRN0002", {7: "20261103070000+0000"}, control_id="K-2"))
    first_key = first.observations[0].result_key
    assert first_key == "@2026-11-02T07:00:00+00:00|1988-5|"
    assert later.observations[0].result_key != first_key
    assert not first_key.startswith("1|")


def test_result_key_without_order_numbers_uses_obx14_before_obr7() -> None:
    message, _ = parse_oru(
        crp_order("MRN0001", {7: "20261102070000+0000"}, obx14="20261102081500+0100")
    )
    assert message.observations[0].result_key == "@2026-11-02T07:15:00+00:00|1988-5|"


def test_result_key_same_instant_in_another_offset_is_the_same_key() -> None:
    original, _ = parse_oru(crp_order("MRN0001", {7: "20261102070000+0000"}))
    correction, _ = parse_oru(crp_order("MRN0001", {7: "20261102080000+0100"}, control_id="K-2"))
    assert original.observations[0].result_key == correction.observations[0].result_key


def keyed_hash(identifier: str) -> str:
    return hashlib.sha256(b"key" + identifier.encode()).hexdigest()


def test_without_order_numbers_two_patients_drawn_the_same_minute_have_two_keys() -> None:
    def key(mrn: str, obr: dict[int, str]) -> str:
        message, _ = parse_oru(crp_order(mrn, obr), identify=keyed_hash)
        return message.observations[0].result_key

    at = {7: "20261102070000+0000"}
    assert key("MRN0001", at) != key("MRN0002", at)
    assert key("MRN0001", at) == key("MRN0001", at)
    assert "MRN0001" not in key("MRN0001", at)
    assert key("MRN0001", {**at, 3: "FL9"}) == "FL9|1988-5|"  # an order number is unique


def test_a_time_without_offset_keys_the_same_across_a_clock_change() -> None:
    """A naive time takes MSH-7's offset; a resend across a clock change has another
    offset in MSH-7, but it is the same sample: the key is the time as written."""

    def key(message_time: str) -> str:
        text = crp_order("MRN0001", {7: "20261024100000"}).replace(
            "20261102091500+0000", message_time
        )
        message, _ = parse_oru(text)
        return message.observations[0].result_key

    assert key("20261024110000+0200") == key("20261026090000+0100")


@pytest.mark.parametrize(
    "written",
    ["202611021000", "20261102100000", "2026110210", "20261102100000.0", "20261102100000.00"],
)
def test_a_time_without_offset_keys_the_same_however_precisely_written(written: str) -> None:
    """One sample resent with its time written to the second (or the hour) is one key: it
    was two results, both published, and a correction changed only one."""
    message, _ = parse_oru(crp_order("MRN0001", {7: written}))
    assert message.observations[0].result_key == "@20261102100000|1988-5|"


def test_a_fraction_of_a_second_is_part_of_the_key() -> None:
    message, _ = parse_oru(crp_order("MRN0001", {7: "20261102100000.5"}))
    assert message.observations[0].result_key == "@20261102100000.5|1988-5|"


@pytest.mark.parametrize(
    ("obr", "expected"),
    [
        ({2: "PL9", 3: "FL9"}, "FL9|1988-5|"),
        ({2: "PL9"}, "PL9|1988-5|"),
        ({3: "FL9"}, "FL9|1988-5|"),
    ],
)
def test_result_key_prefers_filler_then_placer_order(obr: dict[int, str], expected: str) -> None:
    message, _ = parse_oru(crp_order("MRN0001", {**obr, 7: "20261102070000+0000"}))
    assert message.observations[0].result_key == expected


# --- One patient per message ----------------------------------------------------------------


def test_message_with_two_patients_is_rejected_as_unusable() -> None:
    text = join([
        msh(control_id="TWO-PIDS"),
        seg("PID", {1: "1", 3: "MRN0001^^^NORTHLAB^MR", 5: "DOE^JANE"}),
        seg("OBR", {1: "1", 3: "FA", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12", 6: "mg/L", 11: "F"}),
        seg("PID", {1: "2", 3: "MRN0002^^^NORTHLAB^MR", 5: "ROE^RICHARD"}),
        seg("OBR", {1: "1", 3: "FB", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "80", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    with pytest.raises(Hl7InputError) as info:
        parse_oru(text)
    assert info.value.code is RejectionCode.MULTIPLE_PATIENTS
    assert info.value.code not in MESSAGE_REJECTIONS  # a well-formed message: AE, not AR
    assert "one patient per message: found 2 PID segments" in info.value.reason
    assert "MRN000" not in info.value.reason
    assert info.value.header is not None
    assert info.value.header.control_id == "TWO-PIDS"
    from tests.unit.lab_ingestion.test_hl7_ack import NOW, field, parse_ack  # noqa: PLC0415 - no import cycle

    ack = parse_ack(build_ack(info.value.header, "AE", text=info.value.reason,
                              error=info.value.code, control_id="A", now=NOW))  # fmt: skip
    assert field(ack, "MSA", 3) == info.value.reason  # fits MSA-3's 80 characters
    kept = redact(text, fake_hash)  # what the rejection stores
    for secret in ("MRN0001", "MRN0002", "DOE", "JANE", "ROE", "RICHARD"):
        assert secret not in kept


# --- Structured numeric (SN) values ---------------------------------------------------------


def _structured_numeric(obx5: str, code: str = "1988-5^CRP^LN", unit: str = "mg/L") -> str:
    """One result of OBX-2 type SN, without a patient."""
    return join([
        msh(),
        seg("OBR", {1: "1", 3: "F1", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "SN", 3: code, 5: obx5, 6: unit, 11: "F"}),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("obx5", "expected"),
    [
        ("<^5", "<5"),
        ("^12.5", "12.5"),
        (">=^10", ">=10"),
        ("=^7", "7"),
        ("^1^:^2", "1:2"),
        ("1^:^2", "1^:^2"),  # "1" is no comparator (SN.1): kept as sent, which is no number
        ("<>^5", "<>5"),  # "not equal": no number either
        ("^10^-^20", "10-20"),
        ("^2^+", "2+"),
        ("^1^.^5", "^1^.^5"),  # no decimal in HL7's SN: kept as sent, which is no number
        ("^1^,^5", "^1^,^5"),
        ("12.5", "12.5"),
        ("", ""),
    ],
)
def test_structured_numeric_value_is_comparator_and_number(obx5: str, expected: str) -> None:
    message, _ = parse_oru(_structured_numeric(obx5))
    assert message.observations[0].value == expected
    assert message.observations[0].unit == ("mg/L",)


def test_structured_numeric_ratio_is_rejected_as_non_numeric_by_normalisation() -> None:
    message, _ = parse_oru(_structured_numeric("^1^:^2"))
    result = normalise(message.observations[0])
    assert isinstance(result, Rejected)
    assert result.code is RejectionCode.NON_NUMERIC_VALUE


@pytest.mark.parametrize(
    ("obx5", "glued"),
    [
        ("12^5", 125.0),  # as NM, "12^5" is rejected: never read as a number
        ("2^50", 250.0),
        ("1^.5", 1.5),  # "^1^.^5" is refused as 1.5, and so is this
        ("1^2.5", 12.5),
        ("+^5", 5.0),  # a sign is no comparator either
        ("+^1^.^5", 1.5),
    ],
)
def test_structured_numeric_comparator_that_is_no_comparator_is_no_number(
    obx5: str, glued: float
) -> None:
    """SN.1 holds <, >, <=, >=, =, <> or nothing: a digit there was joined to the number
    (platelets ``12^5`` stored as 125 x10^9/L, a value the lab never sent); the value stays
    text as sent, rejected, and its reason tells its length, not the text."""
    message, _ = parse_oru(_structured_numeric(obx5, "777-3^Platelets^LN", "10*9/L"))
    assert message.observations[0].value == obx5
    result = normalise(message.observations[0])
    assert isinstance(result, Rejected), f"SN {obx5!r} accepted as platelets {glued}"
    assert result.code is RejectionCode.NON_NUMERIC_VALUE
    assert obx5 not in result.reason and f"text of {len(obx5)} characters" in result.reason


def test_another_tests_structured_numeric_is_read_as_before() -> None:
    """Only a trial result's SN is read strictly: another test's value is stored (and its
    message digested) as before, so a resend of a stored message stays a duplicate."""
    text = join([
        msh(),
        seg("OBR", {1: "1", 3: "F1", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "SN", 3: "2345-7^Glucose^LN", 5: "1^:^2", 6: "mg/dL", 11: "F"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    assert message.observations[0].value == "1:2"


def test_non_sn_value_with_components_stays_whole_and_is_no_number() -> None:
    text = join([
        msh(),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "<^5", 6: "mg/L", 11: "F",
                    14: "20261102070000+0000"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    assert message.observations[0].value == "<^5"
    result = normalise(message.observations[0])
    assert isinstance(result, Rejected)
    assert result.code is RejectionCode.NON_NUMERIC_VALUE


# --- Hex escapes (\X..\) in values and units -------------------------------------------------


@pytest.mark.parametrize(
    ("obx6", "expected"),
    [
        ("\\XC2B5\\mol/L", "µmol/L"),  # UTF-8 bytes of µ
        ("\\XC2\\\\XB5\\mol/L", "µmol/L"),  # the bytes split over two escapes
        ("\\XB5\\mol/L", "µmol/L"),  # not UTF-8: latin-1
        ("\\Xc2b5\\mol/L", "µmol/L"),  # lower-case hex digits
        ("10\\S\\9/L\\XC2A0\\", "10^9/L"),  # other escapes still decoded; NBSP trimmed
        ("\\E\\XC2B5\\E\\", "\\XC2B5\\"),  # an escaped backslash is no hex escape
        ("\\X5C\\", "\\"),  # a decoded escape character stays literal
    ],
)
def test_hex_escapes_in_units_are_utf8(obx6: str, expected: str) -> None:
    text = join([
        msh(),
        seg("OBX", {1: "1", 2: "NM", 3: "14682-9^Creatinine^LN", 5: "88", 6: obx6, 11: "F"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    assert message.observations[0].unit == (expected,)


def test_hex_escapes_in_values_and_ranges_are_utf8() -> None:
    text = join([
        msh(),
        seg("OBX", {1: "1", 2: "ST", 3: "X-1^Note^L", 5: "see \\XC3A9\\t\\XC3A9\\",
                    6: "mg/L", 7: "\\XE289A4\\5", 11: "F"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    assert message.observations[0].value == "see été"
    assert message.observations[0].reference_range == "≤5"


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
    assert "'ADT'^'A01'" in info.value.reason
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


@pytest.mark.parametrize(
    ("sent", "taken", "accepted"),
    [
        ("P", "P", True),
        ("p", "P", True),
        ("P^T", "P", True),  # processing mode (current processing): still production
        ("", "P", False),  # required: none is no production message
        ("T", "P", False),  # a training message never enters the trial
        ("D", "P", False),
        ("T", "T", True),  # a test deployment takes training messages
        ("P^A", "P", False),  # archive: not a current result
        ("P^I", "P", False),  # initial load
        ("P", "T", False),  # and never a patient's production result
    ],
)
def test_only_this_deployments_processing_id_is_taken(
    sent: str, taken: str, accepted: bool
) -> None:
    text = join([msh(control_id="PID-1", extra={11: sent})])
    if accepted:
        parse_oru(text, processing_id=taken)
        return
    with pytest.raises(Hl7InputError) as info:
        parse_oru(text, processing_id=taken)
    assert info.value.code is RejectionCode.WRONG_PROCESSING_ID
    assert "MSH-11 processing" in info.value.reason
    assert info.value.header is not None and info.value.header.control_id == "PID-1"


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


# --- Property: parse_oru raises nothing but Hl7InputError ------------------------------------

FIELD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "<^5",
            "^1^:^2",
            "=^",
            "^^^^^",
            "\\XC2B5\\",
            "\\XC2\\",
            "\\XZZ\\",
            "\\X\\",
            "\\X1\\",
            "\\E\\X41\\E\\",
            "\\",
            "\\\\",
            "\\.br\\",
            "\\H\\",
            "20240015083000",
            "20261102083000",
            "20261102083000+2400",
            "2026110208",
            "A^^^X^MR~B^^^Y^MR",
            "~~~",
            "&&",
            "^~\\&",
        ]
    ),
)


@FAST
@given(
    version=st.sampled_from(["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", ""]),
    msh7=FIELD_TEXT,
    segments=st.lists(
        st.tuples(
            st.sampled_from(["PID", "OBR", "OBX", "NTE", " PID", "\tOBX", "ZZZ"]),
            st.lists(FIELD_TEXT, max_size=20),
        ),
        max_size=6,
    ),
    sep=st.sampled_from(["\r", "\n", "\r\n"]),
)
def test_parse_oru_raises_only_hl7_input_error(
    version: str, msh7: str, segments: list[tuple[str, list[str]]], sep: str
) -> None:
    text = join([
        msh(control_id="P-1", version=version, extra={7: msh7.replace("|", "")}),
        *("|".join([name, *fields]) for name, fields in segments),
    ], sep)  # fmt: skip
    try:
        message, header = parse_oru(text)
    except Hl7InputError as error:
        assert error.reason
        assert isinstance(error.code, RejectionCode)
        return
    assert header.control_id == "P-1"
    for observation in message.observations:
        assert isinstance(observation.value, str)
        assert observation.collected_at is None or observation.collected_at.tzinfo is UTC
    redact(text, fake_hash)
    build_ack(header, "AE", text=str(message.observations), control_id="A")


@FAST
@given(text=st.text(max_size=300), prefix=st.sampled_from(["", "MSH|^~\\&|", "MSH|", "MSH"]))
def test_parse_oru_of_arbitrary_text_raises_only_hl7_input_error(text: str, prefix: str) -> None:
    with contextlib.suppress(Hl7InputError):  # anything else fails the test
        parse_oru(prefix + text)


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
        ("20261102083000+1400", utc(2026, 11, 1, 18, 30)),  # Kiribati: the furthest zone
        ("20261102083000-1400", utc(2026, 11, 2, 22, 30)),
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
        "2026110208.5+0100",  # a fraction after the hour: no decimal hours in a DTM
        "202611020830.5+0100",  # nor after the minute (was read as 08:30:00.5)
        "2026-11-02T08:30:00Z",  # ISO, not HL7
        "",
        "   ",
        "not a date",
    ],
)
def test_parse_ts_unusable_values_are_none(value: str) -> None:
    assert parse_ts(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "20261102083000+2400",
        "20261102083000-9999",
        # beyond +/-14:00, which no zone is (JSON and FHIR refuse it): +1459 was read
        "20261102083000+1459",
        "20261102083000-1459",
        "20261102083000+1401",
        "20261102083000+1500",
        "20261102083000+0060",  # minute 60
    ],
)
def test_parse_ts_out_of_range_offset_is_none(value: str) -> None:
    assert parse_ts(value) is None


def test_a_nul_byte_makes_the_message_malformed_with_its_header_for_the_ack() -> None:
    text = join([
        msh(),
        seg("PID", {1: "1", 3: "MRN0042"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "3\x00", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    with pytest.raises(Hl7InputError) as exc:
        parse_oru(text)
    assert exc.value.code is RejectionCode.MALFORMED and "NUL" in exc.value.reason
    assert exc.value.header is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("OBR-3", "F\\X00\\1"),  # the order number: the result key
        ("OBX-8", "H\\X00\\"),  # the abnormal flag
        ("OBX-5", "1\\X0000\\2"),  # a hex run holding a NUL
    ],
)
def test_an_escaped_nul_makes_the_message_malformed(field: str, value: str) -> None:
    """The raw-byte check cannot see ``\\X00\\``: read, it reached PostgreSQL, which refused
    it (AE "our fault, kept for replay", and the replay failed again)."""
    obr = {1: "1", 3: value if field == "OBR-3" else "F1", 7: "20261120080000+0100"}
    obx = {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: value if field == "OBX-5" else "3",
           6: "mg/L", 8: value if field == "OBX-8" else "", 11: "F"}  # fmt: skip
    text = join([msh(), seg("PID", {1: "1", 3: "MRN0042"}), seg("OBR", obr), seg("OBX", obx)])
    with pytest.raises(Hl7InputError) as exc:
        parse_oru(text)
    assert exc.value.code is RejectionCode.MALFORMED and "NUL" in exc.value.reason
    assert exc.value.header is not None  # answered AR, echoing MSH-10


def test_an_escaped_nul_in_msh10_is_malformed() -> None:
    with pytest.raises(Hl7InputError) as exc:
        parse_oru(join([msh(control_id="C\\X00\\1"), seg("PID", {1: "1", 3: "MRN0042"})]))
    assert exc.value.code is RejectionCode.MALFORMED and "NUL" in exc.value.reason


def test_parse_ts_of_a_time_before_utcs_first_year_is_kept_as_written() -> None:
    """Converted to UTC it would overflow: kept in its offset, for the plausibility check."""
    parsed = parse_ts("00010101003000+0100")
    assert parsed is not None and (parsed.year, parsed.utcoffset()) == (1, timedelta(hours=1))


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


@pytest.mark.parametrize(
    "value",
    [
        "20240015083000+0000",
        "20240001083000+0000",
        "20240015",
        "20240100083000+0000",
        "20241100083000+0000",
        "00001102083000+0000",
    ],
)
def test_parse_ts_month_or_day_00_is_invalid(value: str) -> None:
    assert parse_ts(value) is None
    assert parse_ts(value, "+0000") is None


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        ("20261102083000", "+0100", utc(2026, 11, 2, 7, 30)),
        ("202611020830", "-0500", utc(2026, 11, 2, 13, 30)),
        ("20261102083000+0000", "+0100", utc(2026, 11, 2, 8, 30)),  # its own offset wins
        ("20261102083000", "", None),
        ("20261102", "+0100", None),
        ("20261102083000", "+2400", None),
        ("20261102083000", "+1459", None),  # MSH-7's offset beyond +/-14:00 too
    ],
)
def test_parse_ts_without_offset_takes_the_senders(
    value: str, default: str, expected: datetime | None
) -> None:
    assert parse_ts(value, default) == expected


def timed(msh7: str, obr7: str, obx14: str, obx19: str = "") -> str:
    return join([
        msh(extra={7: msh7}),
        seg("PID", {1: "1", 3: "MRN0042"}),
        seg("OBR", {1: "1", 3: "F1", 7: obr7}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "3", 6: "mg/L", 11: "F",
                    14: obx14, 19: obx19}),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("msh7", "obr7", "obx14", "expected"),
    [
        # OBX-14 without offset: in the sender's zone (MSH-7's offset)
        ("20261102091500+0100", "20261102060000+0000", "20261102081500", utc(2026, 11, 2, 7, 15)),
        # OBX-14 present but unusable: no collection time, never OBR-7 instead
        ("20261102091500", "20261102060000+0000", "20261102081500", None),
        # a date alone: OBR-7 of that day instead (review 119); of another day, refused
        ("20261102091500+0000", "20261102060000+0000", "20261102", utc(2026, 11, 2, 6, 0)),
        ("20261102091500+0000", "20261102060000+0000", "20261101", None),
        ("20261102091500+0000", "20261102060000+0000", "20261302081500+0000", None),
        # no OBX-14: OBR-7, also in the sender's zone
        ("20261102091500-0300", "20261102060000", "", utc(2026, 11, 2, 9, 0)),
        ("20261102091500", "20261102060000", "", None),
        ("20261102091500", "20261102060000+0200", "", utc(2026, 11, 2, 4, 0)),
        ("", "20240015060000+0000", "", None),
    ],
)
def test_collection_time_rules(msh7: str, obr7: str, obx14: str, expected: datetime | None) -> None:
    message, _ = parse_oru(timed(msh7, obr7, obx14))
    assert message.observations[0].collected_at == expected


def test_reported_time_without_offset_takes_the_senders() -> None:
    text = timed("20261102091500+0100", "20261102060000+0000", "", "20261102083000")
    message, _ = parse_oru(text)
    assert message.observations[0].reported_at == utc(2026, 11, 2, 7, 30)


@pytest.mark.parametrize(
    ("msh7", "obx19", "reported_at", "reported_local"),
    [
        # without an offset: kept as written too, for the sender's zone (as OBX-14 is)
        ("20261102091500+0100", "20261102083000", utc(2026, 11, 2, 7, 30),
         datetime(2026, 11, 2, 8, 30)),
        # without MSH-7's offset either: only the sender's zone can place it
        ("20261102091500", "20261102083000", None, datetime(2026, 11, 2, 8, 30)),
        # with its own offset: an instant, nothing to read in another zone
        ("20261102091500", "20261102083000+0200", utc(2026, 11, 2, 6, 30), None),
        ("20261102091500+0100", "", None, None),
        ("20261102091500+0100", "20261102", None, None),
    ],
)  # fmt: skip
def test_a_report_time_without_offset_is_also_kept_as_written(
    msh7: str, obx19: str, reported_at: datetime | None, reported_local: datetime | None
) -> None:
    message, _ = parse_oru(timed(msh7, "", "20261102081500+0100", obx19))
    (observation,) = message.observations
    assert (observation.reported_at, observation.reported_local) == (reported_at, reported_local)


def test_a_collection_time_from_obr7_without_offset_is_kept_as_written() -> None:
    message, _ = parse_oru(timed("20261102091500+0100", "20261102060000", ""))
    (observation,) = message.observations
    assert observation.collected_local == datetime(2026, 11, 2, 6, 0)
    assert observation.collected_at == utc(2026, 11, 2, 5, 0)


@pytest.mark.parametrize(
    "escape", ["\\.in+x\\", "\\.ti+\\", "\\.sp\\", "\\H\\", "\\Zxx\\", "\\X\\"]
)
@pytest.mark.parametrize("field", ["ORU{}^R01", "MRN{}^^^HOSP^MR", "1{}2", "mg{}/L"])
def test_formatting_escapes_anywhere_raise_only_hl7_input_error(escape: str, field: str) -> None:
    """python-hl7's unescape raises ValueError on some formatting escapes (``\\.in+x\\``):
    that must never escape parse_oru (it closed the MLLP connection without an ACK)."""
    value = field.format(escape)
    text = join([
        msh(message_type=value if "R01" in value else "ORU^R01"),
        seg("PID", {1: "1", 3: value if "MRN" in value else "MRN1^^^HOSP^MR"}),
        seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 4: "PANEL^Panel^L"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: value if value[0] == "1" else "5",
                    6: value if value.startswith("mg") else "mg/L", 11: "F",
                    14: "20261102080000+0000"}),
    ])  # fmt: skip
    with contextlib.suppress(Hl7InputError):  # any other exception fails the test
        parse_oru(text)


@pytest.mark.parametrize("escape", ["\\.in:\\", "\\.in+x\\", "\\.sp x\\", "\\.ti-\\"])
def test_a_formatting_escape_whose_count_is_no_number_is_refused_for_what_it_is(
    escape: str,
) -> None:
    """A count python-hl7 cannot read (``\\.in:\\`` in MSH-3: a rare draw of the parse
    property, last session's code too) was refused "unparseable HL7: ValueError", as a
    parser crash is: it is refused malformed, HL7 error 102, naming the escape."""
    text = join([
        msh(app=f"LAB{escape}"),
        seg("PID", {1: "1", 3: "MRN1^^^HOSP^MR"}),
        seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 4: "PANEL^Panel^L"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "5", 6: "mg/L", 11: "F",
                    14: "20261102080000+0000"}),
    ])  # fmt: skip
    with pytest.raises(Hl7InputError) as refused:
        parse_oru(text)
    assert refused.value.code is RejectionCode.MALFORMED
    assert refused.value.reason.startswith("an HL7 formatting escape (."), refused.value.reason
    assert refused.value.condition == DATA_TYPE_ERROR


def test_a_collection_time_without_offset_is_also_kept_as_written() -> None:
    """For the service to read it in the sender's zone (the offset of MSH-7 is the
    fallback, wrong across a clock change)."""
    message, _ = parse_oru(crp_order("MRN0001", {3: "FL1"}, obx14="20261024233000"))
    (observation,) = message.observations
    assert observation.collected_local == datetime(2026, 10, 24, 23, 30)
    assert observation.collected_at == datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # MSH-7 +0000
    with_offset, _ = parse_oru(crp_order("MRN0001", {3: "FL1"}, obx14="20261024233000+0200"))
    assert with_offset.observations[0].collected_local is None


_MSH = ["^~\\&", "LIS", "HOSP", "R", "F", "20261120080000+0100", "", "ORU^R01", "C1", "P", "2.5.1"]
_BODY = (
    "\rPID|||MRN-4711^^^HOSP^MR||SMITH^JOHN\rOBR|1||ORD1\r"
    "OBX|1|NM|1988-5^CRP^LN||40|mg/L|||||F|||20261120080000+0100\r"
)
_MSH_TEXT = "MSH|" + "|".join(_MSH) + _BODY


@pytest.mark.parametrize("escape", ["\\.in+x\\", "\\.sp+x\\", "\\X4\\", "\\Zx\\", "\\", "\\.br\\"])
@pytest.mark.parametrize("layout", ["{e}", "{v}^{e}", "{v}^x^{e}"])
@pytest.mark.parametrize("number", range(3, 13))
def test_an_escape_anywhere_in_msh_raises_no_exception_but_an_input_error(
    number: int, layout: str, escape: str
) -> None:
    """python-hl7 raises a bare ValueError unescaping ``\\.in+x\\``; MSH-11's second
    component once let it out of the parser (the MLLP connection closed without an ACK)."""
    fields = list(_MSH)
    fields[number - 2] = layout.format(e=escape, v=fields[number - 2] or "x")
    with contextlib.suppress(Hl7InputError):
        parse_oru("MSH|" + "|".join(fields) + _BODY)


def test_a_formatting_escape_repeated_beyond_a_page_is_refused_not_expanded() -> None:
    """15 bytes (\\.in50000000\\) had become 200 million characters."""
    message = _MSH_TEXT.replace("||40|mg/L|", "||A\\.in50000000\\B|mg/L|")
    with pytest.raises(Hl7InputError) as info:
        parse_oru(message)
    assert info.value.code is RejectionCode.MALFORMED
    assert "repeats more than 100 times" in info.value.reason
    assert info.value.header is not None  # the ACK still echoes MSH-10


def test_a_short_formatting_escape_is_still_read() -> None:
    message = _MSH_TEXT.replace("||40|mg/L|", "||40\\.sk2\\|mg/L|")
    parsed, _ = parse_oru(message)
    assert parsed.observations[0].value.startswith("40")


@pytest.mark.parametrize(
    ("obx2", "obx5", "obx6", "code"),
    [
        ("NM", "5~50", "mg/L", RejectionCode.NON_NUMERIC_VALUE),  # two values, no number
        ("SN", "^5~^50", "mg/L", RejectionCode.NON_NUMERIC_VALUE),
        ("NM", "5", "mg/L~mg/dL", RejectionCode.UNCONVERTIBLE_UNIT),  # units tenfold apart
    ],
)
def test_a_repeated_value_or_unit_is_not_read_as_its_first_repetition(
    obx2: str, obx5: str, obx6: str, code: RejectionCode
) -> None:
    """OBX-5 "5~50" was stored as 5 mg/L, OBX-6 "mg/L~mg/dL" as mg/L: a trial result whose
    value or unit field repeats is rejected (any other observation is still ignored)."""
    text = join([
        msh(),
        seg("OBR", {1: "1", 3: "F1", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: obx2, 3: "1988-5^CRP^LN", 5: obx5, 6: obx6, 11: "F"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    result = normalise(message.observations[0])
    assert isinstance(result, Rejected) and result.code is code, result


@pytest.mark.parametrize(
    "obx6", ["mg/L&mg/dL", "mg/L&&mg/dL", "mg/L^milligram per litre&mg/dL", "mg/L~x&mg/dL"]
)
def test_a_unit_in_a_sub_component_that_disagrees_is_rejected_as_a_component_is(
    obx6: str,
) -> None:
    """CRP 1.2 ``mg/L&mg/dL`` was read from its first sub-component, 1.2 mg/L, where
    ``mg/L^mg/dL`` or ``mg/L~mg/dL`` is rejected: the unit is a guess either way."""
    message, _ = parse_oru(_trial_result({5: "1.2", 6: obx6}))
    assert "mg/dL" in message.observations[0].unit
    result = normalise(message.observations[0])
    assert isinstance(result, Rejected) and result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert "disagree" in result.reason


def test_a_sub_component_that_agrees_or_names_no_unit_is_passed_over() -> None:
    for obx6 in ("mg/L&mg/L", "mg/L&milligram per litre", "mg/L&&"):
        message, _ = parse_oru(_trial_result({5: "1.2", 6: obx6}))
        assert not isinstance(normalise(message.observations[0]), Rejected), obx6
    other = parse_oru(_trial_result({3: "600-7^Culture^LN", 6: "x&y"}))[0].observations[0]
    assert other.unit == ("x",)  # another test's unit is read (and digested) as before


def test_a_repeated_unit_that_agrees_is_one_unit() -> None:
    text = join([
        msh(),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "5", 6: "mg/L~~mg/L", 11: "F",
                    14: "20261102070000+0000"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    assert message.observations[0].unit == ("mg/L", "mg/L")
    assert not isinstance(normalise(message.observations[0]), Rejected)
