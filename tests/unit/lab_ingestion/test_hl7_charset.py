"""MSH-18: a message is read in the character set it declares, and answered in it."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_charset import declared_charset, decode_message
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from tests.unit.lab_ingestion.test_mllp_ack_conformance import (
    CR,
    FS,
    VT,
    body,
    converse,
    header,
    msa,
)


def declaring(charset: str, mrn: str = "MRN123") -> str:
    return header("CS-1", f"|||||CHE|{charset}") + body(mrn=mrn)


@pytest.mark.parametrize(
    ("sent", "name"),
    [
        ("UNICODE UTF-8", "UNICODE UTF-8"), ("unicode  utf-8", "UNICODE UTF-8"),
        ("8859/1", "8859/1"), ("8859/15~UNICODE UTF-8", "8859/15"), ("ISO IR100", "ISO IR100"),
        ("ISO IR6", "ISO IR6"), ("ASCII", "ASCII"), ("", None), ("8859/12", None),
        ("UNICODE UTF-16", None), ("KLINGON", None),
    ],
)  # fmt: skip
def test_msh18_names_a_table_0211_set(sent: str, name: str | None) -> None:
    assert declared_charset(declaring(sent).encode("ascii")) == name


def test_no_msh18_is_read_as_before() -> None:
    assert declared_charset(header("CS-1").encode()) is None
    assert decode_message("MSH|^~\\&|Ü".encode()).codec == "utf-8"
    assert decode_message("MSH|^~\\&|Ü".encode("latin-1")).codec == "iso8859-1"


def test_a_declared_set_is_read_strictly() -> None:
    text = declaring("8859/2", mrn="NOWAK\u0141")  # Ł: 0xA3 in ISO 8859-2
    decoded = decode_message(text.encode("iso8859-2"))
    assert (decoded.text, decoded.codec, decoded.broken) == (text, "iso8859-2", None)
    broken = decode_message(declaring("ASCII", mrn="MÜLLER1").encode("latin-1"))
    assert broken.broken == "ASCII" and "MÜLLER1" in broken.text  # read to be kept
    undefined = decode_message(declaring("8859/7").encode("ascii") + b"\xae")  # none in 8859-7
    assert undefined.broken == "8859/7"


@pytest.mark.parametrize("declared", ["8859/1", "8859/15", "ASCII", "ISO IR100"])
def test_utf8_bytes_are_read_as_utf8_whatever_single_byte_set_is_declared(declared: str) -> None:
    """Laboratories declaring 8859/1 while sending UTF-8 are common; read in the declared set,
    MÜLLER1 would be MÃ\x9cLLER1 and match no enrolment (its result discarded unseen)."""
    text = declaring(declared, mrn="MÜLLER1")
    decoded = decode_message(text.encode("utf-8"))
    assert (decoded.text, decoded.codec, decoded.broken) == (text, "utf-8", None)


async def test_a_message_not_valid_in_its_declared_set_is_refused_and_kept() -> None:
    raw = declaring("UNICODE UTF-8", mrn="MÜLLER1").encode("latin-1")
    (ack,), submit = await converse([VT + raw + FS + CR], 1)
    assert msa(ack)[1:3] == ["AR", "CS-1"]
    (kept,) = [c for c in submit.commands if isinstance(c, RecordRejectedInput)]
    assert kept.code is RejectionCode.MALFORMED and "(UNICODE UTF-8)" in kept.reason
    assert "LLER" not in kept.reason and submit.ingests == []


async def test_the_ack_is_written_in_the_set_the_message_was_read_in() -> None:
    raw = header("Ł-1", "|||||CHE|8859/2").encode("iso8859-2") + body().encode()
    (ack,), submit = await converse([VT + raw + FS + CR], 1)
    assert b"|\xa3-1|" in ack  # MSA-2 is MSH-10 byte for byte, in ISO 8859-2
    assert [c.message.control_id for c in submit.ingests] == ["Ł-1"]
