"""Review 72: a W ("posted as wrong") of a result stored under a slightly different key is
silently skipped, answered AA, once another result of the message is withdrawn.

What goes wrong: commit 0821820 reads a ``D``/``W`` under a key that never held anything
as X (``unobtained.as_not_obtained``: "changes nothing") and leaves it out when another
result of the message withdraws what its key holds. Before, a D/W that found nothing was
refused ``unknown-corrected-result`` (AE): the lab was told its withdrawal did not apply.
But "its key never held anything" does not mean "there was nothing to withdraw": keys of
orders without an order number are built from the collection time (OBX-14, else OBR-7),
and a withdrawal is typically sent without the specimen times of the original report.
Here the original CBC+CRP (no order number) gave the CRP its own OBX-14 (08:10, the
chemistry tube), the ANC none (OBR-7, 08:15); the lab's W of the whole report, for the
wrong patient, carries no OBX-14. The ANC's W finds its result (same key) and "acts"; the
CRP's W lands on a key that never held anything and is dropped. The message is answered AA
as if both were withdrawn; the other patient's CRP stays this subject's published result
(driving the trial's CRP decisions), and the lab has no reason to look again.

What should happen: a D/W that finds nothing is refused as before (the lab is told), or
at least when the same patient holds a standing result of the same analyte from the same
order/sample (here: same subject, same analyte, under a key differing only by time).

Suggested fix: in ``as_not_obtained`` read as X only results reported without a value
(not D/W, whose purpose is to act on a stored result), or restrict the D/W case to the
same-measurement manual-count codes that were never stored before the upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7 as _ingest
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _report(control_id: str, status: str, crp_time: str) -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|{control_id}|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "OBR|1|||CBC^Blood count^L|||20261120081500+0100\r"
        f"OBX|1|NM|NEUT^Neutrophils^L^751-8^Neutrophils^LN||0.3|10*9/L|1.8-7.5||||{status}\r"
        f"OBX|2|NM|CRP^CRP^L^1988-5^CRP^LN||48|mg/L|0-5||||{status}|||{crp_time}\r"
    )


def _standing(db: FakeDatabase, analyte: str) -> list[float]:
    return [
        r.result.value
        for r in db.results
        if r.result is not None
        and r.result.analyte.value == analyte
        and r.status in "FC"
        and r.cancelled_at is None
        and r.result_id not in db.cancelled
    ]


async def test_a_w_of_the_whole_report_never_leaves_the_crp_standing_answered_aa() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    first = await _ingest(db, _report("R-1", "F", "20261120081000+0100"))
    assert first.accepted and _standing(db, "crp") == [48.0]
    withdrawal = await _ingest(db, _report("R-1-W", "W", ""))
    assert not (withdrawal.accepted and _standing(db, "crp")), (
        f"the W of the report was answered accepted ({withdrawal}) while the CRP 48 it "
        "withdraws (stored under the 08:10 collection key) stays this subject's published "
        "result: its W was read as an X changing nothing and silently dropped"
    )
