"""A patient's name written with HL7 highlighting in PID-5 (``\\H\\...\\N\\``, as some
systems mark a name to check) is scrubbed from its plain copies elsewhere in a kept copy: it
is collected as it reads with highlighting as nothing (as a trial result's value reads it),
not only as python-hl7 reads it (``_HUBERMANN_``, no whole word of a note naming HUBERMANN)."""

from __future__ import annotations

from services.lab_ingestion.adapters.hl7_redaction import redact

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
OBR = "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100"
OBX = "OBX|1|NM|1988-5^CRP^LN||12|furlongs|||||F|||20261120081500+0100"


def _hash(_: str) -> str:
    return "ab" * 32


def test_a_highlighted_surname_is_scrubbed_from_a_note() -> None:
    pid = "PID|1||MRN4711^^^HOSP^MR||\\H\\HUBERMANN\\N\\^ROSWITHA||19510317|F"
    note = "NTE|1||Sample of HUBERMANN, haemolysed"
    kept = redact("\r".join([MSH, pid, OBR, OBX, note]) + "\r", _hash)
    assert "HUBERMANN" not in kept, kept


def test_a_highlighted_given_name_is_scrubbed_from_an_order_comment() -> None:
    pid = "PID|1||MRN4711^^^HOSP^MR||HUBERMANN^\\H\\ROSWITHA\\N\\||19510317|F"
    comment = "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100||||||Roswitha: fasting"
    kept = redact("\r".join([MSH, pid, comment, OBX]) + "\r", _hash)
    assert "roswitha" not in kept.lower(), kept
