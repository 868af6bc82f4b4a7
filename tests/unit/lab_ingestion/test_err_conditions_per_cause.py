"""ERR's condition (HL7 table 0357) names each malformed message's cause (review 92).

Every malformed message was answered 100 "Segment sequence error", an unreadable escape or a
NUL byte as much as a missing MSH: an engine's operator looked for segments out of order in
a message whose segments were in order. Now 100 is kept for segments out of place, 102
"Data type error" for values that cannot be read, 101 for a required field missing, 207
"Application internal error" for our own failures and our own limits. ERR-3 from v2.5,
ERR-1.4 before it.
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_codec import MAX_PARTS
from services.lab_ingestion.domain.number_types import MAX_PATIENT_NUMBERS
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_hl7_ack import err1_code
from tests.unit.lab_ingestion.test_hl7_flow import MESSAGE, acknowledger, check_ack, field

MSH = MESSAGE.split("\r", 1)[0]


def _in_version(message: str, version: str) -> str:
    return message.replace("|P|2.5.1", f"|P|{version}", 1)


CAUSES = [
    # segments out of place
    ("PID|1||X\r" + MESSAGE, "100"),  # no MSH first
    (MESSAGE + MSH.replace("CTRL0001", "CTRL0002") + "\r", "100"),  # a second message
    # values that cannot be read
    (MESSAGE.replace("|12.5|", "|\\.spX\\|"), "102"),  # an escape python-hl7 cannot decode
    (MESSAGE.replace("|CTRL0001|P|", "|CTRL0001|P^\\.in+x\\|"), "102"),  # ...in MSH
    (MESSAGE.replace("|CTRL0001|", "|CTRL0001\\.sp200\\|"), "102"),  # ...in MSH-10
    (MESSAGE.replace("|12.5|", "|12\x00|"), "102"),  # a NUL byte
    (MESSAGE.replace("|^~\\&|", "|^~\\^&|"), "102"),  # MSH-2 repeats a separator
    (MESSAGE.replace("|CTRL0001|", f"|{'C' * 200}|"), "102"),  # MSH-10 beyond 199 characters
    # a required field missing
    (MESSAGE.replace("|CTRL0001|", "||"), "101"),
    # our own limits
    (MESSAGE.replace("|12.5|", "|" + "^" * MAX_PARTS + "|"), "207"),
    (MESSAGE.replace("NORTHLAB^MR~", "NORTHLAB^MR~" + "N^^^A^MR~" * MAX_PATIENT_NUMBERS), "207"),
]


@pytest.mark.parametrize(("message", "condition"), CAUSES)
@pytest.mark.parametrize("version", ["2.5.1", "2.4"])
async def test_each_malformed_cause_has_its_condition(
    message: str, condition: str, version: str
) -> None:
    raw = _in_version(message, version).encode()
    code, ack = await acknowledger(FakeSubmit()).acknowledge(raw, Channel.MLLP)
    parsed = check_ack(code, ack)
    assert code == "AR", field(parsed, "MSA", 3)
    if field(parsed, "MSH", 12) == "2.4":  # when the header can be read
        assert err1_code(parsed)[0] == condition, field(parsed, "MSA", 3)
    else:
        assert field(parsed, "ERR", 3, 1) == condition, field(parsed, "MSA", 3)


async def test_a_byte_not_of_the_declared_character_set_is_a_data_type_error() -> None:
    raw = (
        MESSAGE.replace("|P|2.5.1", "|P|2.5.1||||||UNICODE UTF-8", 1).replace("DOEFAMILY", "D\xd6E")
    ).encode("latin-1")
    code, ack = await acknowledger(FakeSubmit()).acknowledge(raw, Channel.MLLP)
    assert code == "AR"
    assert field(check_ack(code, ack), "ERR", 3, 1) == "102"


async def test_a_parser_defect_is_our_own_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise KeyError("a defect")

    monkeypatch.setattr("services.lab_ingestion.entrypoints.hl7_flow.parse_oru", broken)
    code, ack = await acknowledger(FakeSubmit()).acknowledge(MESSAGE.encode(), Channel.MLLP)
    assert code == "AR"
    assert field(check_ack(code, ack), "ERR", 3, 1) == "207"


@pytest.mark.parametrize("raw", [MESSAGE.encode(), b"garbage"])
async def test_a_transient_failure_is_207(raw: bytes) -> None:
    submit = FakeSubmit(error=RuntimeError("database is down"))
    code, ack = await Hl7Acknowledger.acknowledge(acknowledger(submit), raw, Channel.MLLP)
    assert code == "AR"
    assert field(check_ack(code, ack), "ERR", 3, 1) == "207"
