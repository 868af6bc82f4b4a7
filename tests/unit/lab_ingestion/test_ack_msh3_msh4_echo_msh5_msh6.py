"""The ACK's MSH-3/MSH-4 (review 92): the message's MSH-5/MSH-6, the application and
facility it was sent to, as the sender wrote them; ours (LENA-CCS, TRIAL) only when it left
them empty. Before, they were always ``LENA-CCS^TRIAL``: an engine that addressed us as
``LENA^TRIAL`` (or by OID) and routes ACKs by their sender found none of its own."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.lab_ingestion.adapters.hl7_ack import Header, build_ack
from services.lab_ingestion.adapters.hl7_msh import read_header
from services.lab_ingestion.domain.model import RejectionCode
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_ack_sender_echo_and_charset import BODY, _ack_text


def _msh_fields(ack: str) -> list[str]:
    return ack.split("\r", 1)[0].split("|")  # MSH-n is [n - 1]


def _message(receiving: str, *, separators: str = "^~\\&", version: str = "2.5.1") -> str:
    return (
        f"MSH|{separators}|LIS|HOSP|{receiving}|20261120090000+0100||ORU^R01|M1|P|{version}\r"
        + BODY
    )


@pytest.mark.parametrize(
    ("receiving", "msh3", "msh4"),
    [
        ("LENA|TRIAL", "LENA", "TRIAL"),
        (
            "LAB-GW^2.16.840.1.113883.3.72.5.30^ISO|ICU",
            "LAB-GW^2.16.840.1.113883.3.72.5.30^ISO",
            "ICU",
        ),
        (
            "^2.16.840.1.113883.3.72.5.30^ISO|^2.16.840.1.113883.3.72.5.31^ISO",
            "^2.16.840.1.113883.3.72.5.30^ISO",
            "^2.16.840.1.113883.3.72.5.31^ISO",
        ),
        ("GW\\T\\1|WARD\\F\\2", "GW\\T\\1", "WARD\\F\\2"),  # escapes as written
        ("GATEWAY|", "GATEWAY", "TRIAL"),  # each field on its own
        ("|ICU", "LENA-CCS", "ICU"),
    ],
)
@pytest.mark.parametrize("channel", [Channel.MLLP, Channel.HL7_HTTP])
def test_the_acks_msh3_msh4_are_the_messages_msh5_msh6_as_written(
    receiving: str, msh3: str, msh4: str, channel: Channel
) -> None:
    code, ack = _ack_text(_message(receiving).encode(), channel)
    assert code == "AA"
    assert _msh_fields(ack)[2:6] == [msh3, msh4, "LIS", "HOSP"], ack


@pytest.mark.parametrize("receiving", ["|", '""|""', "^^|^", '""^^|'])
def test_without_msh5_msh6_the_ack_names_us(receiving: str) -> None:
    """Empty, HL7's explicit null, or components all empty: nothing names a receiver."""
    _, ack = _ack_text(_message(receiving).encode())
    assert _msh_fields(ack)[2:4] == ["LENA-CCS", "TRIAL"], ack


def test_msh5_in_other_separators_is_echoed_in_the_acks_own() -> None:
    """As MSH-5/MSH-6 of the ACK echo MSH-3/MSH-4: the sender's separators translated, a
    default separator sent as data escaped."""
    text = _message("GW$1.2.3$ISO|A^B", separators="$~\\&").replace("ORU^R01", "ORU$R01")
    code, ack = _ack_text((text.split("\r", 1)[0] + "\r" + BODY.replace("^", "$")).encode())
    assert code == "AA"
    assert _msh_fields(ack)[2:4] == ["GW^1.2.3^ISO", "A\\S\\B"], ack


def test_a_rejected_messages_ack_answers_under_its_msh5_msh6_too() -> None:
    code, ack = _ack_text(_message("GATEWAY|ICU", version="2.9").encode())
    assert code == "AR"
    assert _msh_fields(ack)[2:4] == ["GATEWAY", "ICU"], ack


def test_the_header_keeps_msh5_msh6_for_the_ack() -> None:
    header = read_header(_message("GW^1.2.3^ISO|ICU"))
    assert header is not None
    assert (header.echoed_receiving_application, header.echoed_receiving_facility) == (
        "GW^1.2.3^ISO", "ICU",
    )  # fmt: skip
    empty = read_header(_message('|""'))
    assert empty is not None
    assert (empty.echoed_receiving_application, empty.echoed_receiving_facility) == (None, None)


def test_an_ack_without_a_header_names_us() -> None:
    ack = build_ack(None, "AR", text="garbage", error=RejectionCode.MALFORMED, control_id="A")
    assert _msh_fields(ack)[2:4] == ["LENA-CCS", "TRIAL"]
    named = build_ack(replace(Header(), receiving_application="X|Y"), "AA", control_id="A")
    assert _msh_fields(named)[2:4] == ["X\\F\\Y", "TRIAL"]  # a name given alone, escaped
