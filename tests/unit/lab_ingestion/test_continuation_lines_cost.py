"""The cost of joining continuation lines to the person segment before them
(``hl7_kept_lines.kept_lines``): rebuilding the segment for each line was quadratic, a 1 MB
frame (the default MLLP limit) of one-character lines after PID taking about 6 s of CPU on
a worker thread holding the GIL (every other sender's ACK waits). Measured as the ratio of
a 1 MB frame's time to a 250 KB one's (linear: about 4, quadratic: about 16), so that a
loaded machine slows both alike."""

from __future__ import annotations

import time

from services.lab_ingestion.adapters.hl7_redaction import redact

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN9^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F"
OBX = "OBX|1|NM|1988-5^CRP^LN||42|mg/L|||||F"


def _seconds(lines: int) -> float:
    text = "\r".join([MSH, PID, *["x"] * lines, OBX])
    best = float("inf")
    for _ in range(2):  # the faster of two: a pause of the machine is not the code's
        started = time.perf_counter()
        kept = redact(text, lambda _: "ab" * 32)
        best = min(best, time.perf_counter() - started)
        assert kept.split("\r")[-1] == OBX
    return best


def test_a_megabyte_of_continuation_lines_is_redacted_in_linear_time() -> None:
    small, large = _seconds(125_000), _seconds(500_000)  # 250 KB, 1 MB
    assert large < 8 * small + 0.05, f"{large:.2f} s for 1 MB, {small:.2f} s for 250 KB"
    assert large < 5.0, f"{large:.1f} s to redact a 1 MB message"
