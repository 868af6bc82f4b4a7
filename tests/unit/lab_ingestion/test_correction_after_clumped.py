"""Review 72: the corrected platelet count that follows a ``CLUMPED`` report is refused with
"send the final result first", though the lab sent that final report and it was answered AA.

What goes wrong: a CBC with platelets ``CLUMPED`` (F) is accepted, its platelet result read
as X and left out (``unobtained``): nothing stored under its key. Laboratories then re-run
the count (citrate tube) and report it as a *correction* of the released report (``C``,
HL7 table 0085: "replaces a final result"), since the earlier report was final. That ``C``
finds nothing under its key and is refused ``unknown-corrected-result``: "correction of a
result that is not stored (no final result under this order and test): send the final
result first". The lab did, and was answered AA for it; it has no way to comply (resending
the ``CLUMPED`` F stores nothing again). The platelet count, a trial safety analyte
(PROTOCOL section 6), is never stored unless someone at the lab re-sends the corrected
value as ``F`` by hand.

What happens now: the reason tells the lab to send such a count as final (a ``C`` finding
nothing is never taken as a new result: it may correct a result stored under another key),
and sent as ``F`` it is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7 as _ingest
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)
ANC = (
    "OBX|1|NM|NEUT^Neutrophils^L^751-8^Neutrophils^LN||0.3|10*9/L|1.8-7.5||||F|||"
    "20261120081512+0100"
)


def _platelets(value: str, status: str) -> str:
    return (
        f"OBX|2|ST|PLT^Platelets^L^777-3^Platelets^LN||{value}|10*9/L|150-400||||{status}|||"
        "20261120081512+0100"
    )


def _cbc(control_id: str, *lines: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|{control_id}|P|2.5.1",
        "PID|1||MRN1^^^HOSP^MR",
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100",
        *lines,
    ]) + "\r"  # fmt: skip


async def test_the_corrected_count_after_a_clumped_report_is_told_to_be_sent_as_final() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    first = await _ingest(db, _cbc("CBC-1", ANC, _platelets("CLUMPED", "F")))
    assert first.accepted  # AA: the ANC stored, the CLUMPED count left out
    corrected = await _ingest(db, _cbc("CBC-1-C", _platelets("95", "C")))
    assert not corrected.accepted
    assert "reported without a value, e.g. CLUMPED, is sent as final" in corrected.reason
    final = await _ingest(db, _cbc("CBC-1-F", _platelets("95", "F")))
    assert final.accepted
    stored = [r.result.value for r in db.results if r.result.analyte.value == "platelets"]
    assert stored == [95.0]
