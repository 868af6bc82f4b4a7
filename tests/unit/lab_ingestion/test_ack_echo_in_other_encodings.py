"""An ACK echoes MSH-10 (MSA-2) and MSH-3/MSH-4 (MSH-5/MSH-6, a233af7) so that
the sender finds its own values again, whatever encoding characters the message used.

HL7 v2.5.1 section 2.7: ``\\Xdddd...\\`` is a hexadecimal escape; written again in the ACK's
default separators it is unchanged (it holds no separator). A message whose MSH-2 is not
exactly ``^~\\&`` (here ``^~\\&#``: the truncation character v2.7 added, which interface
engines send in front of older versions too) has its MSH-10 and MSH-3 rewritten by
``whole_field``, which decodes the hex escape into characters (one per byte, ``\\XC3BC\\`` is
``Ã¼``) and escapes only separators. On the wire the ACK then carries ``M??1`` (ASCII), or
``MÃ¼1`` double-encoded under an MSH-18 of ``UNICODE UTF-8`` (no MSH-18 declared): MSA-2 no
longer matches the MSH-10 the engine sent (``M\\XC3BC\\1``), so the engine never takes the ACK
for its message and resends it, holding up every result queued behind it; MSH-5 no longer
names the sender either. With the default MSH-2 the same values are echoed as sent.
"""

from __future__ import annotations

import asyncio

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.hl7_charset import decode_message
from services.lab_ingestion.adapters.hl7_echo import in_default_encoding
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import FakeSubmit

BODY = (
    "PID|1||MRN1^^^HOSP^MR\r"
    "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100\r"
    "OBX|1|NM|1988-5^CRP^LN||12.5|mg/L|0-5|H|||F|||20261120081500+0100\r"
)


def _ack_on_the_wire(raw: bytes) -> bytes:
    """The ACK's bytes as the MLLP listener sends them (``MllpServer._send``)."""
    metrics = LabIngestionMetrics(CollectorRegistry())
    acknowledger = Hl7Acknowledger(FakeSubmit(), lambda s: "h" * 64, metrics)
    _, ack = asyncio.run(acknowledger.acknowledge(raw, Channel.MLLP))
    return ack.encode(decode_message(raw).codec, errors="replace")


def _fields(ack: bytes, segment: str) -> list[bytes]:
    (line,) = [s for s in ack.split(b"\r") if s.startswith(segment.encode())]
    return line.split(b"|")


@pytest.mark.parametrize("declared", ["", "ASCII", "UNICODE UTF-8"])
def test_hex_escapes_in_msh10_and_msh3_are_echoed_as_sent(declared: str) -> None:
    msh = (
        "MSH|^~\\&#|LIS\\XC396\\|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|M\\XC3BC\\1|P|"
        f"2.5.1||||||{declared}\r"
    )
    ack = _ack_on_the_wire((msh + BODY).encode("ascii"))
    assert _fields(ack, "MSA")[2] == b"M\\XC3BC\\1", ack  # MSA-2: the sender's MSH-10
    assert _fields(ack, "MSH")[4] == b"LIS\\XC396\\", ack  # MSH-5: the sender's MSH-3


def test_with_the_default_encoding_characters_they_are_echoed_as_sent() -> None:
    """The control: the same message with MSH-2 ``^~\\&`` (passes today)."""
    msh = (
        "MSH|^~\\&|LIS\\XC396\\|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|M\\XC3BC\\1|P|2.5.1\r"
    )
    ack = _ack_on_the_wire((msh + BODY).encode("ascii"))
    assert _fields(ack, "MSA")[2] == b"M\\XC3BC\\1", ack
    assert _fields(ack, "MSH")[4] == b"LIS\\XC396\\", ack


# --- any encoding characters: the sender reads in its ACK the values it sent ---------------

# candidates for MSH-1 and MSH-2: no letter, digit, blank, '.', '+', '-' or '"' (the body's
# times, versions, codes and HL7's null would read otherwise)
_CHARACTERS = "!#$%&'*/:;<=>?@[]^_`{|}~\\"
_ESCAPES = ["F", "S", "T", "R", "E", "XC3BC", "X41", "H", "N", ".br"]


@st.composite
def _sent(draw: st.DrawFn) -> tuple[str, str, str]:
    """A field separator, an MSH-2 (four or five characters: the truncation one of v2.7)
    and an MSH-10 written in them: data (a default separator among it), the sender's own
    separators, and escape sequences."""
    chosen = draw(st.lists(st.sampled_from(_CHARACTERS), min_size=6, max_size=6, unique=True))
    field, encoding = chosen[0], "".join(chosen[1 : 5 + draw(st.integers(0, 1))])
    component, repetition, esc, subcomponent = chosen[1:5]  # encoding's first four
    data = [c for c in "ABC12 " + _CHARACTERS if c not in chosen[:5]]
    tokens = st.one_of(
        st.sampled_from(data),
        st.sampled_from([component, repetition, subcomponent]),
        st.sampled_from(_ESCAPES).map(lambda sequence: f"{esc}{sequence}{esc}"),
    )
    text = "M" + "".join(draw(st.lists(tokens, max_size=12)))
    return field, encoding, text


Read = str | list["Read"]


def _read(value: object, message: hl7.Message, depth: int = 3) -> Read:
    """A field as python-hl7 reads it in ``message``'s encoding: its repetitions, components
    and sub-components (``depth`` levels), each value unescaped, trailing empty parts left
    out (they say nothing, and the ACK does not echo them)."""
    if depth == 0:
        unescaped: str = message.unescape(str(value))
        return unescaped
    parts = [_read(part, message, depth - 1) for part in (
        value if isinstance(value, list) else [value]
    )]  # fmt: skip
    while parts and parts[-1] in ("", []):
        parts.pop()
    return parts


@settings(max_examples=300, deadline=None)
@given(_sent())
def test_msa2_and_msh5_read_in_the_acks_encoding_are_what_the_sender_sent(
    sent: tuple[str, str, str],
) -> None:
    field, encoding, text = sent
    msh = field.join(
        ["MSH", encoding, text, "HOSP", "LENA", "TRIAL", "20261120090000+0100", "",
         f"ORU{encoding[0]}R01", text, "P", "2.5.1"]
    )  # fmt: skip
    body = BODY.replace("^", encoding[0]).replace("|", field)
    raw = msh + "\r" + body
    message = hl7.parse(raw)
    ack = hl7.parse(_ack_on_the_wire(raw.encode("ascii")).decode("ascii"))
    inbound = message.segment("MSH")
    assert _read(ack.segment("MSA")[2], ack) == _read(inbound[10], message), ack
    assert _read(ack.segment("MSH")[5], ack) == _read(inbound[3], message), ack


@pytest.mark.parametrize(
    ("written", "encoding", "echoed"),
    [
        ("A^B#C", "#~\\&", "A\\S\\B^C"),  # '^' is data beside a component separator '#'
        ("A\\S\\B", "#~\\&", "A#B"),  # \S\ names the sender's '#': data in the defaults
        ("M\\XC3BC\\1", "^~\\&#", "M\\XC3BC\\1"),  # a hex escape as written
        ("M!XC3BC!1!E!", "^~!&", "M\\XC3BC\\1!"),  # only the escape character changes
        ("A\\B", "^~!&", "A\\E\\B"),  # '\\' is data beside an escape character '!'
        ("MSG#1", "^~\\&#", "MSG#1"),  # the truncation character is data
        ("A$B$$", "$~\\&", "A^B"),  # trailing empty components left out
        ("A\\B", "^~\\&#", "A\\E\\B"),  # an escape never closed is data
    ],
)
def test_a_field_is_written_in_the_default_encoding(
    written: str, encoding: str, echoed: str
) -> None:
    assert in_default_encoding(written, "|", encoding) == echoed
