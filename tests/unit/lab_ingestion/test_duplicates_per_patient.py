"""Review 70 (mutation testing): a message id used again for *another patient* is no
duplicate.

A lab that sent results under the wrong patient and sends them again, same MSH-10 and same
values, with the right PID-3, must not be answered "duplicate message; already stored": the
right patient's results would be lost behind an AA. The digest's patient hash makes the
difference; no test checked that it does (with it removed every test passed)."""

from __future__ import annotations

from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, message
from tests.unit.lab_ingestion.test_message_identity import CRP


def test_the_same_results_of_another_patient_are_another_message() -> None:
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", "M1", "MRN1", (CRP,))
    assert content_digest(lab, "hash-of-MRN1") != content_digest(lab, "hash-of-MRN2")


async def test_a_message_id_resent_for_another_enrolled_patient_is_no_duplicate() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    ingest = ingestor(db)
    (first,) = await ingest([message("1", mrn="MRN1", key="K")])
    assert first.accepted and first.results == 1, first
    (again,) = await ingest([message("1", mrn="MRN2", key="K")])
    assert not again.duplicate, "another patient's results answered as already stored"
    assert again.code is RejectionCode.REUSED_MESSAGE_ID, again
    assert [r.subject_id for r in db.results] == ["S-1"]
