"""Result keys shared by patients, and results repeated within one message (review 44): each
patient's preliminary results are found by its own cancellation, in one batch as in several;
the same cancellation or correction twice in a message is applied once; a FHIR withdrawal
resent after the wrong-patient fix is a resend."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.model import LabMessage, ObservationInput, RejectionCode
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import AT, CRP
from tests.unit.lab_ingestion.test_withdrawn_resends import batches_of, standing
from tests.unit.lab_ingestion.test_withdrawn_versions import answers, outcomes_of, sent

ACCEPTED = (True, False, None)
DUPLICATE = (True, True, None)
REFUSED = (False, False, RejectionCode.OTHER_PATIENTS_RESULT)


def several(
    control_id: str, *obs: tuple[str, str], mrn: str = "MRN1", key: str = "K"
) -> IngestLabMessage:
    observations = tuple(
        ObservationInput(key, CRP, value, ("mg/L",), status=status, collected_at=AT)
        for status, value in obs
    )
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, mrn, observations)
    return IngestLabMessage(lab, lambda: "", AT)


# --- each patient's preliminary results under a shared key ---------------------------------


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_cancellation_withdraws_the_patients_preliminary_behind_anothers(
    one_batch: bool,
) -> None:
    """MRN1's P 40, then MRN2's P 40 under the same order and test (two orders sharing a
    number), then MRN1's X: MRN1's preliminary result is withdrawn (without an event), MRN2's
    stays."""
    messages = [sent("1", "P"), sent("2", "P", mrn="MRN2"), sent("3", "X")]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED] * 3, [(o.code, o.reason) for o in outcomes]
    assert standing(db) == [("S-2", "P", 40.0)]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_final_and_its_cancellation_withdraw_the_patients_earlier_preliminary(
    one_batch: bool,
) -> None:
    """MRN1's P 40, then MRN1's message [F 40, X], then MRN2's P 40: every version of
    MRN1's result is withdrawn, its preliminary one too, as when all arrive in one batch.
    With MRN2's P 40 standing before it, MRN1's message is refused (review 201: a final
    under a key holding another patient's preliminary result), both preliminaries stand."""
    messages = [sent("1", "P"), several("2", ("F", "40"), ("X", "")), sent("3", "P", mrn="MRN2")]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED] * 3
    assert standing(db) == [("S-2", "P", 40.0)]
    messages = [sent("1", "P"), sent("2", "P", mrn="MRN2"), several("3", ("F", "40"), ("X", ""))]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED, REFUSED]
    assert standing(db) == [("S-1", "P", 40.0), ("S-2", "P", 40.0)]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_cancellation_finds_the_patients_preliminary_in_its_batch_as_after_it(
    one_batch: bool,
) -> None:
    """MRN1's P 40, MRN2's F 40 and P 40 (two orders sharing a number), MRN2's X, MRN1's X:
    in separate batches MRN1's X withdraws its P; in one batch MRN2's P had taken MRN1's
    place in the batch's one preliminary per key, and MRN1's X is rejected "not stored".
    MRN2's F, under a key holding MRN1's preliminary result, is refused (review 201)."""
    messages = [sent("1", "P"), sent("2", mrn="MRN2"), sent("3", "P", mrn="MRN2"),
                sent("4", "X", mrn="MRN2"), sent("5", "X")]  # fmt: skip
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    expected = [ACCEPTED, REFUSED, ACCEPTED, ACCEPTED, ACCEPTED]
    assert answers(outcomes) == expected, [(o.code, o.reason) for o in outcomes]
    assert standing(db) == []


# --- the same cancellation or correction twice in one message --------------------------------


@pytest.mark.parametrize("one_batch", [False, True])
async def test_the_same_cancellation_twice_in_one_message_withdraws_the_result(
    one_batch: bool,
) -> None:
    """F 40, then one message with the same X twice under the order and test (two OBX of
    one test, no sub-id): the result is withdrawn, as by one X, never refused as a
    cancellation "of a result that is not stored" while 40 stays published."""
    messages = [sent("1"), several("2", ("X", ""), ("X", ""))]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes)[1][0], (outcomes[1].code, outcomes[1].reason)
    assert standing(db) == []


@pytest.mark.parametrize("one_batch", [False, True])
async def test_the_same_correction_twice_in_one_message_is_stored_once(one_batch: bool) -> None:
    """F 40, then one message with C 4 twice (no sub-id): README "the same result twice is
    stored once"; two corrections are stored and published, the second superseding the
    first."""
    messages = [sent("1"), several("2", ("C", "4"), ("C", "4"))]
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED]
    corrections = [r for r in db.results if r.status == "C"]
    assert len(corrections) == 1, [(r.status, r.result.value) for r in db.results]


# --- a FHIR cancellation resent after the wrong-patient fix ----------------------------------


def fhir(basis: str, status: str, value: str = "", mrn: str = "MRN1") -> IngestLabMessage:
    observation = ObservationInput("K", CRP, value, ("mg/L",), status=status, collected_at=AT)
    lab = LabMessage(Channel.FHIR, "LIS", "HOSP", basis, mrn, (observation,),
                     control_id_basis=basis)  # fmt: skip
    return IngestLabMessage(lab, lambda: "", AT)


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_fhir_withdrawal_resent_after_the_wrong_patient_fix_is_a_duplicate(
    one_batch: bool,
) -> None:
    """FHIR: final 40 for MRN1, entered-in-error, final 40 for MRN2 (the same Observation
    identifier, a new version: the wrong-patient fix), then MRN1's entered-in-error version
    posted again (its answer was lost): MRN1's result is still withdrawn, nothing of it has
    changed, so it is a resend (200), not 422 "its result has changed since"."""
    messages = [fhir("v1", "F", "40"), fhir("v2", "D"), fhir("v3", "F", "40", mrn="MRN2"),
                fhir("v2", "D")]  # fmt: skip
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED, ACCEPTED, ACCEPTED, DUPLICATE], [
        (o.code, o.reason) for o in outcomes
    ]
    assert standing(db) == [("S-2", "F", 40.0)]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_cancellation_after_a_preliminary_result_in_its_message_withdraws_it(
    one_batch: bool,
) -> None:
    """F 40, then [X, P 41, X]: the second X is no repeat of the first (a preliminary result
    came between): it withdraws the message's own P 41; so does [P 42, X] on a new key."""
    messages = [sent("1"), several("2", ("X", ""), ("P", "41"), ("X", "")),
                several("3", ("P", "42"), ("X", ""), key="K2")]  # fmt: skip
    outcomes, db = await outcomes_of(batches_of(messages, one_batch))
    assert answers(outcomes) == [ACCEPTED] * 3
    assert standing(db) == []
