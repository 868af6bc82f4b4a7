"""Review 73: a W / entered-in-error of a stored *manual* neutrophil count (LOINC 753-4) is
silently dropped, answered as done, when it arrives under another key than the count was
stored under and another result of the message is withdrawn or recorded.

What goes wrong: ``unobtained._changes_nothing_if_unused`` reads as X every X/D/W "of a
field named by a same-measurement code alone", on the ground that such a field was "never
stored before such codes were read". That was true before ``SAME_TEST_CODES`` were read;
it is false since: a manual count 753-4 (often the most severe neutropenias, as
``analyte_codes`` itself says) is stored and published as the subject's neutrophil count.
So the shifted-key hole review 72 closed for protocol codes stays open for these codes:

- HL7: the original CBC (no order number: keys are built from the collection time) gives
  the smear's manual count its own OBX-14 (08:10); the lab's W of the whole report, for the
  wrong patient, carries no OBX-14. The platelets' W finds its result and "acts"; the manual
  count's W lands on the OBR-7 key (08:15), never held, is read as X and left out. AA; the
  other patient's grade-4 ANC 0.2 stays this subject's published neutrophil count (dose
  holds, SAE workflows). A 751-8 ANC in the same place is refused (review 72's test).
- FHIR: the token replaced under a new name; a transaction with today's ANC and an
  ``entered-in-error`` for yesterday's 753-4 (wrong patient, stored under the old token's
  name). The entered-in-error finds nothing under the new name and is read as X beside the
  ANC: answered 200, the wrong patient's manual count stands. With 1988-5 the same
  transaction is refused (review 72's FHIR test).

What should happen: a D/W of a manual count that finds nothing is refused like any other
protocol result's (``unknown-corrected-result``), the lab told.

Suggested fix: drop the same-measurement-code branch of ``_changes_nothing_if_unused``
(or limit it to a withdrawal whose own value is empty *and* whose order holds no stored
result of that analyte for the patient); a CBC's W with an empty manual field can be
answered by reading only an *empty* withdrawal of a key never held as X when the same
order's automated count of that analyte acts in the message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.lab_ingestion.service_layer.commands import (
    IngestTransaction,
)
from tests.unit.lab_ingestion.fhir_samples import lab_observation as _observation
from tests.unit.lab_ingestion.fhir_samples import parsed_bundle
from tests.unit.lab_ingestion.fhir_samples import quantity as _quantity
from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7 as _ingest
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)
AT = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _report(control_id: str, status: str, manual_time: str) -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|{control_id}|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "OBR|1|||CBC^Blood count^L|||20261120081500+0100\r"
        f"OBX|1|NM|PLT^Platelets^L^777-3^Platelets^LN||150|10*9/L|150-400||||{status}\r"
        "OBX|2|NM|NEUTM^Neutrophils manual^L^753-4^Neutrophils manual count^LN||0.2|10*9/L|"
        f"1.8-7.5|LL|||{status}|||{manual_time}\r"
    )


def _standing(db: FakeDatabase, loinc: str) -> list[float]:
    return [
        r.result.value
        for r in db.results
        if r.result is not None
        and r.result.loinc == loinc
        and r.status in "FC"
        and r.cancelled_at is None
        and r.result_id not in db.cancelled
    ]


async def test_a_w_of_the_report_never_leaves_the_manual_count_standing_answered_aa() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    first = await _ingest(db, _report("R-1", "F", "20261120081000+0100"))
    assert first.accepted and _standing(db, "753-4") == [0.2]
    withdrawal = await _ingest(db, _report("R-1-W", "W", ""))
    assert not (withdrawal.accepted and _standing(db, "753-4")), (
        f"the W of the report was answered accepted ({withdrawal}) while the manual "
        f"neutrophil count {_standing(db, '753-4')} it withdraws (stored under the 08:10 "
        "collection key) stays this subject's published ANC: its W was read as X "
        "('a same-measurement code alone: never stored') and dropped"
    )


async def test_an_entered_in_error_of_a_manual_count_under_the_old_token_is_not_dropped() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    old = parsed_bundle(
        "transaction", _observation("ANCM-9", "753-4", **_quantity(0.2, "10*9/L")), sender="old-lab"
    )
    (stored,) = await ingestor(db)([IngestTransaction(old.messages, lambda: "", AT)])
    assert stored.accepted and _standing(db, "753-4") == [0.2]
    new = parsed_bundle(
        "transaction",
        _observation("ANC-2", "751-8", **_quantity(2.1, "10*9/L")),
        _observation("ANCM-9", "753-4", status="entered-in-error"),
    )
    (outcome,) = await ingestor(db)([IngestTransaction(new.messages, lambda: "", AT)])
    assert not (outcome.accepted and _standing(db, "753-4")), (
        f"the transaction withdrawing the manual count was answered accepted "
        f"({outcome.code}, results={outcome.results}) while the count "
        f"{_standing(db, '753-4')} it withdraws (stored under the token's old name) stands: "
        "the entered-in-error was read as X beside the new ANC and dropped; with 1988-5 the "
        "same transaction is refused"
    )
