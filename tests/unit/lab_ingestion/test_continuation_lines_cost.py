"""Continuation lines joined to the person segment before them
(``hl7_kept_lines.kept_lines``): rebuilding the segment for each line was quadratic, a 1 MB
frame (the default MLLP limit) of one-character lines after PID taking about 6 s of CPU on
a worker thread holding the GIL (every other sender's ACK waits). That cost is copying in C,
which no count of Python steps sees: ``bench/redaction_cost.py`` times a 1 MB frame against
a 250 KB one (linear: about 4 times). Here: what such a frame's copy keeps."""

from __future__ import annotations

from services.lab_ingestion.adapters.hl7_redaction import redact

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN9^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F"
OBX = "OBX|1|NM|1988-5^CRP^LN||42|mg/L|||||F"


def test_a_megabyte_of_continuation_lines_is_kept_as_one_redacted_person_segment() -> None:
    text = "\r".join([MSH, PID, *["x"] * 500_000, OBX])  # 1 MB
    kept = redact(text, lambda _: "ab" * 32).split("\r")
    assert kept[0] == MSH
    assert kept[-1] == OBX
    assert len(kept) == 3, "the lines after PID belong to it"
    assert kept[1] == f"PID|1||HMAC:{'ab' * 32}^^^HOSP^MR|||||"  # the person's text cleared
