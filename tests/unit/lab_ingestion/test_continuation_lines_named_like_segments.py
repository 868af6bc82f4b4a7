"""Text after a raw line break inside PID that starts with a segment name and the field
separator (``hl7_kept_lines``).

A two-line address broken before its country (the test for ``CHE|`` in
test_kept_copy_lines_and_documents) is blanked as PID's rest; so must the same address of a
patient living in Austria (ISO 3166 ``AUT``, also HL7's Authorization segment), Portugal
(``PRT``, the Participation segment) or Saint Pierre and Miquelon (``SPM``, the Specimen
segment): kept as that segment, it kept PID-13 (phone) and PID-19 (national id) verbatim,
and their copies in a note. After a person segment only what an ORU^R01 holds there is a
segment; a Z-segment there (``ZAF``, South Africa) keeps its name only, and its values are
scrubbed from the rest of the message."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_redaction import redact

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN4711^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F|||Hauptstrasse 5^^Bregenz^^6900^"
OBR = "OBR|1|PLC1|F9|LAB^Lab panel|||20261102070000+0000"
OBX = "OBX|1|NM|1988-5^CRP^LN||12|furlongs|||||F"
PHONE, NATIONAL = "0557412345678", "1234170351"


def _hash(_: str) -> str:
    return "ab" * 32


@pytest.mark.parametrize("country", ["AUT", "PRT", "SPM", "ZAF"])
def test_the_rest_of_a_pid_after_a_country_that_is_a_segment_name_is_blanked(country: str) -> None:
    rest = f"{country}||{PHONE}||||||{NATIONAL}"
    note = f"NTE|1||call {PHONE}, id {NATIONAL}"
    kept = redact("\r".join([MSH, PID, rest, OBR, OBX, note]) + "\r", _hash)
    assert PHONE not in kept and NATIONAL not in kept, kept
    assert kept.split("\r")[-1] == "NTE|1||call [redacted], id [redacted]", kept


def test_a_participation_after_pid_is_kept_as_a_segment() -> None:
    prt = "PRT||AD||OP^Ordering provider^HL70912|||||||||||||"
    kept = redact("\r".join([MSH, PID, prt, OBR, OBX]) + "\r", _hash).split("\r")
    assert kept[2] == prt, kept


def test_a_segment_name_after_an_order_is_still_a_segment() -> None:
    """Only after a person segment are segments limited to an ORU's: AUT after OBX is the
    segment it names (kept as any other segment is)."""
    aut = "AUT|PLAN1|INSCO"
    kept = redact("\r".join([MSH, PID, OBR, OBX, aut]) + "\r", _hash).split("\r")
    assert kept[-1] == aut, kept
