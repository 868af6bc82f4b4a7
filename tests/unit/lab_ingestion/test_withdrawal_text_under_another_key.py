"""Review 73: a W ("posted as wrong") of a stored CRP is still silently dropped, answered AA,
when the lab's system writes "Cancelled" into the withdrawn result's value, as many do.

What goes wrong: review 72 (3b08952) stopped reading a withdrawal of a protocol code that
finds nothing as X: its key may be shifted (keys of orders without an order number are
built from the collection time, OBX-14 else OBR-7, and a withdrawal often comes without the
original specimen times), so it is refused and the lab is told. But
``unobtained._changes_nothing_if_unused`` still reads as X an X/D/W "whose value says not
obtained" (``says_not_obtained``), and ``cancelled`` / ``see comment`` are among the
phrases. Laboratory systems very commonly blank a withdrawn result and write
``Cancelled``, ``Result cancelled - wrong patient`` or ``See comment`` into OBX-5 of the
W/D they send. So review 72's exact scenario, with that OBX-5 text instead of ``48``: the
platelets' W finds its result and "acts"; the CRP's W lands on a key shifted by the
missing OBX-14, is read as X and left out. The message is answered AA, the platelet count
is withdrawn, and the other patient's CRP 48 stays this subject's published result,
driving the trial's CRP decisions; the lab has no reason to look again. The same W with
``48`` in OBX-5 is refused (``unknown-corrected-result``).

A ``C`` correcting the CRP to ``Cancelled - see comment`` under the shifted key, beside a
platelet correction, is likewise dropped with AA (under the right key the same correction is
refused ``non-numeric-value``): the lab's statement that the CRP is void is lost and the
value stands.

What should happen: a D/W/C of a protocol code's result that finds nothing under its key is
refused as before, whatever its value says (an X finding nothing keeps the old rule); the
value text of a withdrawal is no evidence that nothing was stored.

Suggested fix: in ``_changes_nothing_if_unused`` read D/W as X only for a same-measurement
code (and see the manual-count review for that); for C, read as X only when it is the
value-less counterpart of an earlier value-less report, or refuse a C finding nothing
always (README already says a C finding nothing is told to send the count as final).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7 as _ingest
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)
CRP_TUBE = "20261120081000+0100"  # the chemistry tube's own OBX-14 in the original report


def _report(control_id: str, status: str, crp_time: str, crp: str, platelets: str) -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|{control_id}|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "OBR|1|||CBC^Blood count^L|||20261120081500+0100\r"
        f"OBX|1|NM|PLT^Platelets^L^777-3^Platelets^LN||{platelets}|10*9/L|150-400||||{status}\r"
        f"OBX|2|ST|CRP^CRP^L^1988-5^CRP^LN||{crp}|mg/L|0-5||||{status}|||{crp_time}\r"
    )


def _crp_standing(db: FakeDatabase) -> list[float]:
    return [
        r.result.value
        for r in db.results
        if r.result is not None
        and r.result.analyte.value == "crp"
        and r.status in "FC"
        and r.cancelled_at is None
        and r.result_id not in db.cancelled
    ]


async def _stored_report(db: FakeDatabase) -> None:
    first = await _ingest(db, _report("R-1", "F", CRP_TUBE, "48", "150"))
    assert first.accepted and _crp_standing(db) == [48.0]


async def test_baseline_the_w_with_the_value_in_obx5_is_refused() -> None:
    """Review 72's fix, as the baseline: passes."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await _stored_report(db)
    withdrawal = await _ingest(db, _report("R-1-W", "W", "", "48", "150"))
    assert not withdrawal.accepted and _crp_standing(db) == [48.0]


@pytest.mark.parametrize("obx5", ["Cancelled", "Result cancelled - wrong patient", "See comment"])
async def test_a_w_whose_obx5_says_cancelled_never_leaves_the_crp_standing_answered_aa(
    obx5: str,
) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await _stored_report(db)
    withdrawal = await _ingest(db, _report("R-1-W", "W", "", obx5, "Cancelled"))
    assert not (withdrawal.accepted and _crp_standing(db)), (
        f"the W of the report (OBX-5 {obx5!r}) was answered accepted ({withdrawal}) while "
        f"the CRP {_crp_standing(db)} it withdraws (stored under the 08:10 collection key) "
        "stays this subject's published result: its W was read as an X 'whose value says "
        "not obtained' and dropped; with 48 in OBX-5 the same W is refused"
    )


async def test_a_correction_to_cancelled_under_a_shifted_key_is_not_acknowledged() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await _stored_report(db)
    correction = await _ingest(db, _report("R-1-C", "C", "", "Cancelled - see comment", "120"))
    assert not (correction.accepted and _crp_standing(db) == [48.0]), (
        f"the correction voiding the CRP was answered accepted ({correction}) and the CRP "
        "48 stands: under a key shifted by the missing OBX-14 its 'Cancelled' C was read as "
        "X beside the platelet correction and dropped; under the right key it is refused"
    )
