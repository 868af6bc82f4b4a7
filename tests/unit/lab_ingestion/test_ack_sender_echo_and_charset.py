"""The MSH of lab-ingestion's ACK against HL7 v2.3-2.5.1 chapter 2: MSH-5/MSH-6 echo the
sender's whole MSH-3/MSH-4, and MSH-18 names the character set of an ACK beyond ASCII.

An interface engine matches an ACK to the message it sent by MSA-2, and to the
conversation by the ACK's MSH-5/MSH-6 (the original sender, HD) and reads its bytes in the
character set MSH-18 names (HL7 v2.5 section 2.15.9.18: when MSH-18 is not valued, the
message is 7-bit ASCII).
"""

from __future__ import annotations

import asyncio

import hl7
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.hl7_charset import decode_message
from services.lab_ingestion.adapters.hl7_msh import read_header
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import FakeSubmit

BODY = (
    "PID|1||MRN1^^^HOSP^MR\r"
    "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100\r"
    "OBX|1|NM|1988-5^CRP^LN||12.5|mg/L|0-5|H|||F|||20261120081500+0100\r"
)


def _ack_text(raw: bytes, channel: Channel = Channel.MLLP) -> tuple[str, str]:
    metrics = LabIngestionMetrics(CollectorRegistry())
    acknowledger = Hl7Acknowledger(FakeSubmit(), lambda s: "h" * 64, metrics)
    return asyncio.run(acknowledger.acknowledge(raw, channel))


def _ack(raw: bytes, channel: Channel = Channel.MLLP) -> tuple[str, hl7.Message]:
    code, ack = _ack_text(raw, channel)
    return code, hl7.parse(ack)


def _msh(message: hl7.Message, field: int, component: int = 1) -> str:
    return str(message.segment("MSH").extract_field(1, field, 1, component))


def test_ack_msh5_msh6_echo_the_whole_hd_of_msh3_msh4() -> None:
    """A v2.5.1 LRI/ELR sender names itself by namespace id AND universal id (HD.1^HD.2^HD.3).
    The ACK's receiving application/facility is that sender: the whole HD, not HD.1 alone
    (an engine, or the LRI ACK profile, that checks ACK MSH-5/6 against its own MSH-3/4
    finds ``LIS`` where it sent ``LIS^2.16.840.1.113883.3.72.5.20^ISO``)."""
    msh = (
        "MSH|^~\\&|LIS^2.16.840.1.113883.3.72.5.20^ISO|HOSP^2.16.840.1.113883.3.72.5.21^ISO|"
        "LENA|TRIAL|20261120090000+0100||ORU^R01^ORU_R01|MSG-1|P|2.5.1\r"
    )
    code, ack = _ack((msh + BODY).encode())
    assert code == "AA"
    msh_of_ack = ack.segment("MSH")  # python-hl7: MSH-n is msh[n]
    assert str(msh_of_ack[5]) == "LIS^2.16.840.1.113883.3.72.5.20^ISO"
    assert str(msh_of_ack[6]) == "HOSP^2.16.840.1.113883.3.72.5.21^ISO"


def test_an_ack_holding_non_ascii_text_names_its_character_set_in_msh18() -> None:
    """The message declares UNICODE UTF-8 and its MSH-3 and MSH-10 hold a non-ASCII letter;
    the ACK echoes them (MSH-5, MSA-2) and goes out in UTF-8, so its MSH-18 must say so:
    without it a receiver reads the ACK as ASCII and MSA-2 no longer matches MSH-10."""
    msh = (
        "MSH|^~\\&|LABÖ|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|MSG-Ü1|P|2.5.1"
        "||||||UNICODE UTF-8\r"
    )
    _, ack = _ack((msh + BODY).encode("utf-8"))
    assert str(ack.segment("MSA")[2]) == "MSG-Ü1"
    assert _msh(ack, 18) == "UNICODE UTF-8"


def test_an_ack_in_iso_8859_1_names_it_in_msh18() -> None:
    """The same in ISO 8859-1 (MSH-18 8859/1, one byte per letter): the ACK is written in
    8859/1 (the listener encodes it so) and must declare it."""
    msh = "MSH|^~\\&|LABÖ|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|MSG-Ü1|P|2.5.1||||||8859/1\r"
    _, ack = _ack((msh + BODY).encode("iso8859-1"))
    assert str(ack.segment("MSA")[2]) == "MSG-Ü1"
    assert _msh(ack, 18) == "8859/1"


_LRI = "LIS^2.16.840.1.113883.3.72.5.20^ISO|HOSP^2.16.840.1.113883.3.72.5.21^ISO"


def test_the_sender_is_still_named_by_its_namespace_id_for_the_allow_list() -> None:
    """Only the ACK's echo changed: the sender's identity (``LIS^HOSP``, an OID alone when
    no namespace id is given) is what `cachexia source add` allowed before."""
    header = read_header(f"MSH|^~\\&|{_LRI}|LENA|TRIAL|20261120090000+0100||ORU^R01|M1|P|2.5.1")
    assert header is not None
    assert (header.sending_application, header.sending_facility) == ("LIS", "HOSP")
    oid_only = read_header("MSH|^~\\&|^1.2.3^ISO|HOSP|L|T|20261120090000||ORU^R01|M1|P|2.5.1")
    assert oid_only is not None and oid_only.sending_application == "1.2.3"


def test_an_hd_in_other_separators_is_echoed_in_the_acks_own() -> None:
    """A message written with ``$`` for its component separator: the ACK (written in HL7's
    default separators) echoes the same HD in ``^``; a ``^`` in a value (no separator in
    this message) is escaped there."""
    msh = "MSH|$~\\&|LIS$1.2.3$ISO|A^B$$|LENA|TRIAL|20261120090000+0100||ORU$R01|M1|P|2.5.1\r"
    body = BODY.replace("^", "$")
    code, ack = _ack((msh + body).encode())
    assert code == "AA"
    assert str(ack.segment("MSH")[5]) == "LIS^1.2.3^ISO"
    assert str(ack.segment("MSH")[6]) == "A\\S\\B"


def test_an_hd_in_default_separators_is_echoed_as_written() -> None:
    msh = "MSH|^~\\&|LIS\\T\\1^1.2.3^ISO|HOSP|L|T|20261120090000+0100||ORU^R01|M1|P|2.5.1\r"
    _, ack = _ack_text((msh + BODY).encode())
    assert ack.split("\r")[0].split("|")[4] == "LIS\\T\\1^1.2.3^ISO"


def _plain(version_and_more: str, sender: str = "LIS", control_id: str = "MSG-1") -> str:
    return (
        f"MSH|^~\\&|{sender}|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|"
        f"{version_and_more}\r" + BODY
    )


def test_an_ack_of_ascii_text_has_no_msh18_whatever_set_the_message_declared() -> None:
    """Without MSH-18 a message is ASCII: an ACK holding nothing else needs none."""
    for message in (_plain("2.5.1"), _plain("2.5.1||||||UNICODE UTF-8"), _plain("2.3||||||8859/1")):
        _, ack = _ack_text(message.encode())
        assert len(ack.split("\r")[0].split("|")) == 12, ack


def test_msh13_to_msh17_stay_empty_beside_msh18() -> None:
    _, ack = _ack_text(_plain("2.5.1||||||UNICODE UTF-8", sender="LABÖ").encode())
    assert ack.split("\r")[0].split("|")[12:] == ["", "", "", "", "", "UNICODE UTF-8"]


def test_a_message_declaring_8859_1_but_sent_in_utf8_is_answered_in_utf8_and_says_so() -> None:
    """Valid UTF-8 is read as UTF-8 whatever MSH-18 declares (``hl7_charset``), and the ACK
    is written in UTF-8 too: its MSH-18 says the set it is written in, not the one declared."""
    _, ack = _ack(_plain("2.5.1||||||8859/1", sender="LABÖ").encode("utf-8"))
    assert _msh(ack, 18) == "UNICODE UTF-8"


def test_a_set_declared_by_its_iso_ir_name_is_named_so() -> None:
    _, ack = _ack(_plain("2.5.1||||||ISO IR100", sender="LABÖ").encode("iso8859-1"))
    assert _msh(ack, 18) == "ISO IR100"


def test_an_undeclared_non_ascii_message_is_answered_in_the_set_it_was_read_in() -> None:
    """No MSH-18: UTF-8 when valid (else ISO 8859-1), and the ACK names it."""
    _, in_utf8 = _ack(_plain("2.5.1", sender="LABÖ").encode("utf-8"))
    _, in_latin1 = _ack(_plain("2.5.1", sender="LABÖ").encode("iso8859-1"))
    assert (_msh(in_utf8, 18), _msh(in_latin1, 18)) == ("UNICODE UTF-8", "8859/1")


def test_an_http_ack_holding_non_ascii_text_names_utf8() -> None:
    """``POST /v1/hl7`` answers in UTF-8 (the response's charset) whatever the message's set."""
    raw = _plain("2.5.1||||||8859/1", sender="LABÖ", control_id="MSG-Ü1").encode("iso8859-1")
    _, ack = _ack(raw, Channel.HL7_HTTP)
    assert str(ack.segment("MSA")[2]) == "MSG-Ü1"
    assert _msh(ack, 18) == "UNICODE UTF-8"


def test_a_rejected_messages_ack_names_its_set_too() -> None:
    """An AR (here an unsupported version) echoes MSH-3 and MSH-10 as an AA does."""
    code, ack = _ack(_plain("2.9||||||8859/1", control_id="MSG-Ü1").encode("iso8859-1"))
    assert code == "AR"
    assert _msh(ack, 18) == "8859/1"


def test_the_acks_bytes_read_back_in_the_set_they_name() -> None:
    """The listener encodes the ACK in the set the message was read in: read as HL7 says
    (by its MSH-18), its MSA-2 is the message's MSH-10."""
    for name, codec in (("8859/1", "iso8859-1"), ("8859/7", "iso8859-7"), ("", "utf-8")):
        declared = f"||||||{name}" if name else ""
        raw = _plain(f"2.5.1{declared}", control_id="MSG-Ü1" if codec != "iso8859-7" else "ΔΣ1")
        sent = raw.encode(codec)
        _, ack = _ack_text(sent)
        ack_bytes = ack.encode(decode_message(sent).codec)
        read_back = hl7.parse(decode_message(ack_bytes).text)
        assert str(read_back.segment("MSA")[2]) == ("ΔΣ1" if codec == "iso8859-7" else "MSG-Ü1")
        assert decode_message(ack_bytes).codec == codec


def test_a_message_not_valid_in_its_declared_set_is_answered_in_8859_1_and_says_so() -> None:
    """Declared UTF-8, sent in ISO 8859-1: malformed, read (and answered) in ISO 8859-1."""
    raw = _plain("2.5.1||||||UNICODE UTF-8", control_id="MSG-Ü1").encode("iso8859-1")
    code, ack = _ack(raw)
    assert code == "AR"
    assert str(ack.segment("MSA")[2]) == "MSG-Ü1"
    assert _msh(ack, 18) == "8859/1"
