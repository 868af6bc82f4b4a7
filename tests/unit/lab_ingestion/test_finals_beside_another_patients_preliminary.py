"""A final (or corrected) result under a key holding only another patient's standing
preliminary result is refused as a key holding another patient's final one is
(``result-of-another-patient``, kept: review 201, fixer 203). It was stored beside it, the
other patient's preliminary of that sample still standing; found after two subjects'
enrolments were swapped (a mix-up corrected both ways)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import check_earlier_results, plan_results
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
CRP = (Coding("1988-5", "http://loinc.org"),)
KEY = ("LIS^HOSP", "K")


def sent(*statuses: str, mrn: str = "MRN1", control_id: str = "1", key: str = "K") -> LabMessage:
    observations = tuple(
        ObservationInput(key, CRP, "12", ("mg/L",), status=status, collected_at=AT)
        for status in statuses
    )
    return LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, mrn, observations)


def check(message: LabMessage, preliminary_of: str) -> object:
    planned = plan_results(message, UnitParameters(), AT + timedelta(hours=1))
    assert not isinstance(planned, Rejected)
    preliminary = EarlierResult(uuid.uuid4(), preliminary_of, "crp", AT)
    return check_earlier_results(message, planned, "S-1", {}, {(*KEY, preliminary_of): preliminary})


@pytest.mark.parametrize("status", ["F", "C"])
def test_a_result_under_another_patients_preliminary_is_refused(status: str) -> None:
    refused = check(sent(status), "S-2")
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.OTHER_PATIENTS_RESULT
    assert refused.reason.startswith("the order and test of this result hold another patient")


def test_the_patients_own_preliminary_is_no_reason_to_refuse() -> None:
    assert check(sent("F"), "S-1") != [] and not isinstance(check(sent("F"), "S-1"), Rejected)


def test_a_preliminary_beside_another_patients_is_stored_as_before() -> None:
    """Two orders sharing a number: each patient's preliminary stands (README)."""
    assert not isinstance(check(sent("P"), "S-2"), Rejected)


def test_a_cancellation_in_the_message_clears_only_the_patients_own() -> None:
    assert isinstance(check(sent("P", "X", "F"), "S-2"), Rejected)


def message(control_id: str, mrn: str, status: str, key: str = "K") -> IngestLabMessage:
    lab = sent(status, mrn=mrn, control_id=control_id, key=key)
    return IngestLabMessage(lab, lambda: "", AT)


async def test_the_final_is_refused_on_the_fast_path_and_the_careful_one() -> None:
    """S-2 remembered (fast path): its final under the key holding S-1's preliminary is
    refused by the write (the key holds a row), read, and refused and kept."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    ingest = ingestor(db)
    await ingest([message("0", "MRN2", "F", key="K0")])  # S-2 remembered since
    (preliminary,) = await ingest([message("1", "MRN1", "P")])
    assert preliminary.results == 1
    refused_before = db.refused
    (final,) = await ingest([message("2", "MRN2", "F")])
    assert final.code is RejectionCode.OTHER_PATIENTS_RESULT, final
    assert db.refused == refused_before + 1  # the fast path's write refused, then read
    assert [(r.subject_id, r.status) for r in db.results] == [("S-2", "F"), ("S-1", "P")]
    assert [topic for topic, _ in db.events][-1] == LAB_REJECTED
