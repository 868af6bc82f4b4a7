"""Withdrawn chains and the patients sharing a result key (review 43): a message id answered
as a duplicate is kept, so its resend is never applied afresh; another patient's standing
result or preliminary one never changes what a withdrawal of this patient means; and a
message never brings back a withdrawn value under the new chain it starts itself."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.model import LabMessage, ObservationInput, RejectionCode
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import AT, CRP, FakeDatabase, recorded
from tests.unit.lab_ingestion.test_withdrawn_versions import answers, combined, outcomes_of, sent

ACCEPTED = (True, False, None)
DUPLICATE = (True, True, None)
WITHDRAWN = (False, False, RejectionCode.AMBIGUOUS_VERSION)


def batches_of(messages: list[IngestLabMessage], one_batch: bool) -> list[list[IngestLabMessage]]:
    return [messages] if one_batch else [[m] for m in messages]


def standing(db: FakeDatabase) -> list[tuple[str, str, float | None]]:
    """Each result standing (neither cancelled nor superseded): its patient, status and
    value."""
    kept = [r for r in db.results if r.cancelled_at is None and r.result_id not in db.cancelled]
    superseded = {r.supersedes_result_id for r in kept}
    return [(r.subject_id, r.status, r.result.value) for r in kept if r.result_id not in superseded]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_cancellation_answered_as_a_duplicate_is_kept_under_its_message_id(
    one_batch: bool,
) -> None:
    """F 40, X, the X again under a new id (a duplicate), F 41 (the patient's new result),
    then that duplicate sent again under its own id (its answer was lost): it is a resend
    of a message answered before, and must not cancel the new result."""
    messages = [sent("1"), sent("2", "X"), sent("3", "X"), sent("4", value="41"), sent("3", "X")]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED, DUPLICATE, ACCEPTED, DUPLICATE]
    assert standing(db) == [("S-1", "F", 41.0)]
    assert db.messages[("LIS^HOSP", "3")].result_count == 0  # kept, with no result of its own
    cancelled = [e for _, e in db.events if e.event_type == "LabResultCancelled"]
    assert len(cancelled) == 1


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_message_id_answered_as_a_duplicate_is_answered_so_again(one_batch: bool) -> None:
    """F 40, the F 40 again under a new id (a duplicate), X: that duplicate sent again under
    its own id is the same message, answered as before (not refused as a late copy)."""
    messages = [sent("1"), sent("2"), sent("3", "X"), sent("2")]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, DUPLICATE, ACCEPTED, DUPLICATE]
    assert standing(db) == []


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_late_copy_of_a_result_moved_to_another_patient_is_refused_as_withdrawn(
    one_batch: bool,
) -> None:
    """The wrong-patient fix (F 40 for MRN1, W, F 40 for MRN2), then a late copy of MRN1's
    F 40: it is told the result was withdrawn, not to correct or cancel MRN2's result (which
    would undo the fix)."""
    messages = [sent("1"), sent("2", "W"), sent("3", mrn="MRN2"), sent("4")]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED, ACCEPTED, WITHDRAWN]
    assert outcomes[3].reason.startswith("this result was withdrawn")
    assert standing(db) == [("S-2", "F", 40.0)]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_message_never_corrects_its_own_new_chain_back_to_a_withdrawn_value(
    one_batch: bool,
) -> None:
    """F 40, D, then one message [F 41, C 40]: the C 40 says what the withdrawn version said
    and no cancellation in the message cleared the key: it is a late copy, and the message
    is rejected whole."""
    messages = [sent("1"), sent("2", "D"), combined("3", ("F", "41"), ("C", "40"))]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED, WITHDRAWN]
    assert outcomes[2].failed_observation == 1
    assert standing(db) == []
    assert [value for _, value, _ in recorded(db)] == [40.0]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_what_a_message_clears_itself_it_may_post_again(one_batch: bool) -> None:
    """F 40, D, then [X, F 41, C 40]: the lab cancels, posts and corrects in one message,
    after its own cancellation: its instruction, applied."""
    messages = [sent("1"), sent("2", "D"), combined("3", ("X", ""), ("F", "41"), ("C", "40"))]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED, ACCEPTED]
    assert standing(db) == [("S-1", "C", 40.0)]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_cancellation_withdraws_its_patients_results_only(one_batch: bool) -> None:
    """MRN2's preliminary result, then MRN1's, under one key (two orders sharing a number):
    MRN1's cancellation leaves MRN2's preliminary result standing, which MRN2's own
    cancellation then withdraws, in one batch as in several. (MRN1's final result there is
    refused since review 201: the key holds another patient's preliminary result.)"""
    messages = [
        sent("1", "P", mrn="MRN2"), sent("2", "P"), sent("3", "X"), sent("4", "X", mrn="MRN2")
    ]  # fmt: skip
    outcomes, db = await outcomes_of(batches_of(messages[:3], one_batch))
    assert answers(outcomes) == [ACCEPTED] * 3
    assert standing(db) == [("S-2", "P", 40.0)]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED] * 4
    assert standing(db) == []


def fhir_version(basis: str, status: str, value: str = "") -> IngestLabMessage:
    """A FHIR version of the Observation under key K: its id is made of its content
    (``basis``: what tells versions apart, its ``issued`` time say)."""
    observation = ObservationInput("K", CRP, value, ("mg/L",), status=status, collected_at=AT)
    lab = LabMessage(
        Channel.FHIR, "LIS", "HOSP", basis, "MRN1", (observation,), control_id_basis=basis
    )
    return IngestLabMessage(lab, lambda: "", AT)


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_fhir_cancellation_answered_as_a_duplicate_never_withdraws_a_later_result(
    one_batch: bool,
) -> None:
    """FHIR: final 40, its cancellation, the cancellation again as a version of its own (a
    duplicate), a new final 41, then that duplicate version posted again: it is known as
    stored, and refused (its result has changed since), never applied to 41."""
    messages = [
        fhir_version("v1", "F", "40"), fhir_version("v2", "X"), fhir_version("v3", "X"),
        fhir_version("v4", "F", "41"), fhir_version("v3", "X"),
    ]  # fmt: skip
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED, DUPLICATE, ACCEPTED, WITHDRAWN]
    assert standing(db) == [("S-1", "F", 41.0)]
