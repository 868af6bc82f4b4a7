"""Fields of one value written with sub-components (review 114, finding 1).

``PID-3 = MRN4711&5^^^HOSP^MR`` (an unescaped ``&``) was read as MRN4711, and the result
stored as that enrolled patient's. CX-1 has no sub-components, nor have an order number
(EI-1), a test code, a sub-id, a status, a time or a sender's name: such a message is
malformed (AR), never read by the value's first part."""

from __future__ import annotations

import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_ack import DATA_TYPE_ERROR
from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru, redact
from services.lab_ingestion.domain.model import RejectionCode


def hashed(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()


def message(
    *,
    pid3: str = "MRN4711^^^HOSP^MR",
    sender: str = "LIS|HOSP",
    order: str = "ORD1",
    code: str = "1988-5^CRP^LN",
    sub_id: str = "",
    status: str = "F",
    collected: str = "20261120081500+0100",
    note: str = "",
) -> str:
    segments = [
        f"MSH|^~\\&|{sender}|LENA|TRIAL|20261120090000+0100||ORU^R01|M-1|P|2.5.1",
        f"PID|1||{pid3}||DOE^JOHN||19580214|M",
        f"OBR|1|PLC1|{order}|LAB^Lab panel|||20261120081500+0100",
        f"OBX|1|NM|{code}|{sub_id}|12|mg/L|0-5||||{status}|||{collected}",
    ]
    if note:
        segments.append(f"NTE|1||{note}")
    return "\r".join(segments) + "\r"


def refused(text: str) -> Hl7InputError:
    with pytest.raises(Hl7InputError) as caught:
        parse_oru(text, identify=hashed)
    assert caught.value.code is RejectionCode.MALFORMED
    assert caught.value.condition == DATA_TYPE_ERROR
    assert caught.value.header is not None  # answered AR with the message's own header
    assert "sub-components" in caught.value.reason and len(caught.value.reason) <= 80
    return caught.value


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"pid3": "MRN4711&5^^^HOSP^MR"}, "PID-3"),  # another number, read as MRN4711
        ({"pid3": "MRN4711&^^^HOSP^MR"}, "PID-3"),  # a trailing & too: badly encoded
        ({"pid3": "&MRN4711^^^HOSP^MR"}, "PID-3"),
        ({"pid3": "MRN4711&5"}, "PID-3"),  # no components at all
        ({"pid3": "X1^^^HOSP^PI~MRN4711&5^^^HOSP^MR"}, "PID-3"),  # a later repetition
        ({"pid3": "MRN4711^^^HOSP^MR~756&1234^^^CH^NN"}, "PID-3"),  # any number of PID-3
        ({"order": "ORD1&2"}, "OBR-3"),  # order ORD1's result key: a correction of it
        ({"code": "777-3&751-8^PLT^LN"}, "OBX-3"),  # neutrophils read as platelets
        ({"code": "1988-5^CRP^LN&X"}, "OBX-3"),  # its coding system
        ({"sub_id": "1&2"}, "OBX-4"),  # part of the result's key
        ({"status": "F&C"}, "OBX-11"),
        ({"collected": "20261120&081500"}, "OBX-14"),  # a date for a time
        ({"sender": "LIS&OTHER|HOSP"}, "MSH-3"),  # sender LIS, matched at its site
        ({"sender": "LIS|HOSP^1.2.3&X^ISO"}, "MSH-4"),
    ],
)
def test_a_value_written_with_sub_components_is_malformed(
    fields: dict[str, str], where: str
) -> None:
    assert refused(message(**fields)).reason.startswith(where)


def test_another_tests_fields_are_read_as_before() -> None:
    """Only a trial result's fields are read as one value: another test's are read
    leniently, as always (its reading cannot cost the message's trial results). Its OBX-3
    codes excepted (review 118): which test it is cannot be told then (below)."""
    text = message().replace(
        "OBX|1|", "OBX|1|NM|4548-4^HbA1c^LN|1&2|6|%||||F&C|||20261120&0815\rOBX|2|"
    )
    parsed, _ = parse_oru(text, identify=hashed)
    assert parsed.patient_identifier == "MRN4711"
    assert len(parsed.observations) == 2


def test_a_sub_component_of_a_patient_number_is_never_matched_by_its_first_part() -> None:
    text = message(pid3="MRN4711&5^^^HOSP^MR", note="seen MRN4711&5 and MRN4711 again")
    refused(text)
    copy = redact(text, hashed)
    pid3 = copy.split("\r")[1].split("|")[3]
    assert pid3 == f"HMAC:{hashed('MRN4711&5')}^^^HOSP^MR"  # hashed whole, as written
    assert hashed("MRN4711") not in copy  # a replay of the copy matches nobody by it
    assert "MRN4711" not in copy
    assert copy.split("\r")[-1] == f"NTE|1||seen HMAC:{hashed('MRN4711&5')} and [redacted] again"


_NUMBER = st.text(string.ascii_uppercase + string.digits, min_size=0, max_size=8)


@given(
    first=_NUMBER,
    rest=st.lists(_NUMBER, min_size=1, max_size=3),
    kind=st.sampled_from(["MR", "PI", ""]),
)
def test_a_patient_number_with_a_sub_component_separator_never_names_a_patient(
    first: str, rest: list[str], kind: str
) -> None:
    """Whatever its parts (empty ones too), a CX-1 holding ``&`` is no patient number."""
    number = "&".join([first, *rest])
    with pytest.raises(Hl7InputError) as caught:
        parse_oru(message(pid3=f"{number}^^^HOSP^{kind}"), identify=hashed)
    assert caught.value.code is RejectionCode.MALFORMED


@pytest.mark.parametrize(
    "code",
    [
        "4548-4&1988-5^CRP^LN",  # a CRP behind HbA1c's code: read as HbA1c, left out unseen
        "XCRP&1988-5^CRP^LN",  # behind a code that names nothing
        "4548-4^HbA1c^LN&X",  # another test's coding system
        "4548-4^HbA1c^LN^CRP&1^C-reactive^L",  # its alternate code
        "4548-4^HbA1c^LN^^^L&",  # its alternate coding system, a trailing empty part
        "4548-4^HbA1c^LN~X&1988-5^CRP^LN",  # a later repetition
        "&1988-5",  # an empty first part
    ],
)
def test_any_obx_code_written_with_sub_components_is_malformed(code: str) -> None:
    """Review 118: ``4548-4&1988-5^CRP^LN`` was read as HbA1c (its first part), so not as a
    trial result, and left out: the CRP of 85 lost, the message answered AA beside another
    result. Which test an OBX is cannot be told then: the message is malformed, whatever
    the parts are, for every OBX, trial result's or not."""
    assert refused(message(code=code)).reason.startswith("OBX-3")
    beside = message().replace("OBX|1|", "OBX|1|NM|751-8^Neut^LN||2.1|10*9/L\rOBX|2|")
    assert refused(beside.replace("1988-5^CRP^LN", code)).reason.startswith("OBX-3")


@pytest.mark.parametrize(
    "code",
    [
        "1988-5^CRP & hsCRP^LN",  # a name: never read to tell the test
        "1988-5^CRP \\T\\ hsCRP^LN",  # escaped, as HL7 writes it
        "1988-5^CRP^LN^^^^2.68^^CRP&hs",  # CWE-9, the original text
        "1988-5\\T\\1^CRP^LN",  # an escaped & in a code: one value (no trial code)
    ],
)
def test_an_ampersand_in_obx3_text_or_escaped_is_read(code: str) -> None:
    """A text (CWE-2, 5, 9) may hold an unescaped ``&`` (``Na & K``): labs write them,
    and no text decides which test a result is. An escaped one is a character of a value."""
    parsed, _ = parse_oru(message(code=code), identify=hashed)
    assert len(parsed.observations) == 1


_PART = st.text(string.ascii_uppercase + string.digits + "-.", max_size=8)


@given(
    parts=st.lists(_PART, min_size=2, max_size=3),
    component=st.sampled_from([1, 3, 4, 6]),
    repetition=st.sampled_from([1, 2]),
    trial_first=st.booleans(),
)
def test_an_ampersand_in_any_obx3_code_or_system_never_passes(
    parts: list[str], component: int, repetition: int, trial_first: bool
) -> None:
    """Whatever its parts (a trial code, another test's, empty ones), an OBX-3 identifier
    or coding system (either triplet, any repetition) written with ``&`` is never read:
    parse_oru refuses the message malformed, so it is never answered AA."""
    components = ["1988-5", "CRP", "LN", "", "", ""]
    if trial_first:
        parts = ["1988-5", *parts[1:]]
    components[component - 1] = "&".join(parts)
    written = "^".join(components).rstrip("^")
    code = written if repetition == 1 else f"751-8^Neut^LN~{written}"
    beside = message().replace("OBX|1|", "OBX|1|NM|751-8^Neut^LN||2.1|10*9/L\rOBX|2|")
    for text in (message(code=code), beside.replace("1988-5^CRP^LN", code, 1)):
        refused(text)
