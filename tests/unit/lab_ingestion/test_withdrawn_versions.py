"""A withdrawn result stays withdrawn (review 39, findings 2 and 3): a late copy of a version
a cancellation withdrew is rejected, never a new chain; a cancellation sent again is a
duplicate; another value or another patient still starts a new chain."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.lab_ingestion.adapters.batch_lookup import BatchLookup
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters, normalise
from services.lab_ingestion.domain.planning import (
    PlannedResult,
    check_earlier_results,
    content_of,
    plan_results,
)
from services.lab_ingestion.domain.records import (
    Content,
    EarlierResult,
    ResultRecord,
    WithdrawnVersion,
)
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import (
    AT,
    CRP,
    FakeDatabase,
    FakeLabs,
    FakeUnitOfWork,
    message,
    recorded,
)

KEY = ("LIS^HOSP", "K")


def crp(value: str, status: str = "F") -> ObservationInput:
    return ObservationInput("K", CRP, value, ("mg/L",), status=status, collected_at=AT)


def content(value: str) -> Content:
    normalised = normalise(crp(value), UnitParameters())
    assert isinstance(normalised, NormalisedResult)
    return content_of(normalised, AT)


def gone(*values: str, subject: str = "S-1", analyte: str = "crp") -> frozenset[WithdrawnVersion]:
    """Withdrawn versions of ``subject`` under KEY that said ``values``."""
    return frozenset(WithdrawnVersion(subject, analyte, content(v)) for v in values)


def check(
    *observations: ObservationInput,
    withdrawn: frozenset[WithdrawnVersion] = frozenset(),
    head_of: str | None = None,
    fhir: bool = False,
) -> list[PlannedResult] | Rejected:
    """check_earlier_results for one message of subject S-1 under KEY, whose withdrawn
    versions are ``withdrawn`` and whose standing head (if any) is ``head_of``'s."""
    lab = LabMessage(
        Channel.FHIR if fhir else Channel.MLLP, "LIS", "HOSP", "1", "MRN1", observations,
        control_id_basis="version-content" if fhir else None,
    )  # fmt: skip
    planned = plan_results(lab, UnitParameters(), AT)
    assert not isinstance(planned, Rejected)
    heads = {KEY: EarlierResult(uuid.UUID(int=1), head_of, "crp", AT)} if head_of else {}
    return check_earlier_results(lab, planned, "S-1", heads, withdrawn={KEY: withdrawn})


def test_a_late_copy_of_a_withdrawn_result_is_rejected() -> None:
    """F 40, W, then F 40 under a new message id: nothing stands, and the copy says what the
    withdrawn version said (or an earlier, corrected, version of its chain)."""
    for withdrawn in (gone("40"), gone("4", "40")):
        checked = check(crp("40"), withdrawn=withdrawn)
        assert isinstance(checked, Rejected), withdrawn
        assert checked.code is RejectionCode.AMBIGUOUS_VERSION
        assert checked.reason.startswith("this result was withdrawn: a new result needs an")
        assert checked.observation == 0


@pytest.mark.parametrize(
    "withdrawn",
    [
        gone("41"),  # another value: a new result
        gone("40", subject="S-2"),  # another patient's (the wrong-patient fix)
        gone("40", analyte="alt"),  # another test's
    ],
)
def test_a_final_result_restating_no_withdrawn_version_of_the_patient_starts_a_chain(
    withdrawn: frozenset[WithdrawnVersion],
) -> None:
    checked = check(crp("40"), withdrawn=withdrawn)
    assert not isinstance(checked, Rejected) and len(checked) == 1


def test_what_the_lab_says_in_one_message_or_as_a_new_fhir_version_is_no_late_copy() -> None:
    """A cancellation and the final result after it in one message: the lab's instruction. A
    FHIR version with an ``issued`` time of its own: posted again on purpose (a late FHIR
    copy keeps its version id and is known as stored)."""
    in_one = check(crp("", "D"), crp("40"), withdrawn=gone("40"), head_of="S-1")
    assert not isinstance(in_one, Rejected) and len(in_one) == 2
    fhir = check(crp("40"), withdrawn=gone("40"), fhir=True)
    assert not isinstance(fhir, Rejected) and len(fhir) == 1


@pytest.mark.parametrize("status", ["X", "D", "W"])
@pytest.mark.parametrize("head_of", [None, "S-2"])  # nothing standing; another patient's
def test_a_cancellation_of_a_withdrawn_chain_is_a_duplicate_left_out(
    status: str, head_of: str | None
) -> None:
    assert check(crp("", status), withdrawn=gone("40"), head_of=head_of) == []


def test_a_cancellation_where_the_patient_held_no_result_is_still_rejected() -> None:
    for withdrawn in (frozenset(), gone("40", subject="S-2"), gone("40", analyte="alt")):
        checked = check(crp("", "D"), withdrawn=withdrawn)
        assert isinstance(checked, Rejected), withdrawn
        assert checked.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
        # where to withdraw, and how a test never resulted is sent (review 157)
        assert checked.reason.startswith("cancellation of nothing stored under this order")
        assert "send the final result first" not in checked.reason


def test_a_correction_of_a_withdrawn_result_never_asks_for_the_final_result_first() -> None:
    checked = check(crp("4", "C"), withdrawn=gone("40"))
    assert isinstance(checked, Rejected)
    assert checked.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
    assert checked.reason.startswith("correction of a withdrawn result: a new result needs")
    assert "send the final result first" not in checked.reason


# --- one batch and several alike, on BatchIngestor -----------------------------------------


class WithdrawnReadingLabs(FakeLabs):
    """The fake database as the lookup of migration 0017 reads it: each key's withdrawn
    versions (each patient's); the guard (``FakeLabs._holds``, as migration 0018's) assumes
    no key new where a result was ever stored."""

    async def lookup(
        self, message_keys: Any, hmacs: Any, result_keys: Any, *, change_times: bool = False
    ) -> BatchLookup:
        lookup = await super().lookup(message_keys, hmacs, result_keys, change_times=change_times)
        for key in result_keys:
            versions = {self._version(r) for r in self._withdrawn_records(*key)}
            if versions:
                lookup.withdrawn_versions[key] = frozenset(versions)
        return lookup

    @staticmethod
    def _version(r: ResultRecord) -> WithdrawnVersion:
        said = content_of(r.result, r.collected_at) if r.status in "FC" else None
        return WithdrawnVersion(r.subject_id, r.result.analyte.value, said)

    def _withdrawn_records(self, source: str, key: str) -> list[ResultRecord]:
        return [r for r in self.db.results if (r.source, r.result_key) == (source, key)
                and (r.cancelled_at is not None or r.result_id in self.db.cancelled)]  # fmt: skip


class WithdrawnReadingUnitOfWork(FakeUnitOfWork):
    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.labs = WithdrawnReadingLabs(db)


def ingestor(db: FakeDatabase) -> BatchIngestor:
    def replanned() -> None:
        db.replans += 1

    return BatchIngestor(
        lambda: WithdrawnReadingUnitOfWork(db), lambda identifier: f"h({identifier})",
        on_replan=replanned,
    )  # fmt: skip


def sent(
    control_id: str, status: str = "F", value: str = "40", mrn: str = "MRN1"
) -> IngestLabMessage:
    return message(control_id, mrn, status, "K", value="" if status in "XDW" else value)


async def outcomes_of(batches: list[list[IngestLabMessage]]) -> tuple[list[IngestOutcome], Any]:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    ingest = ingestor(db)
    outcomes = [o for batch in batches for o in await ingest(batch)]
    return outcomes, db


def answers(outcomes: list[IngestOutcome]) -> list[tuple[bool, bool, RejectionCode | None]]:
    return [(o.accepted, o.duplicate, o.code) for o in outcomes]


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_late_copy_after_a_withdrawal_is_rejected_in_its_batch_as_in_a_later_one(
    one_batch: bool,
) -> None:
    messages = [sent("1"), sent("2", "W"), sent("3"), sent("4", "D"), sent("5", value="41")]
    batches = [messages] if one_batch else [[m] for m in messages]
    outcomes, db = await outcomes_of(batches)
    assert answers(outcomes) == [
        (True, False, None), (True, False, None),
        (False, False, RejectionCode.AMBIGUOUS_VERSION),
        (True, True, None),  # the withdrawal sent again: a duplicate
        (True, False, None),  # another value: a new chain
    ]  # fmt: skip
    assert [(status, value) for status, value, _ in recorded(db)] == [
        ("final", 40.0), ("final", 41.0),
    ]  # fmt: skip
    assert db.messages[("LIS^HOSP", "4")].result_count == 0  # a duplicate: its id alone kept
    cancelled = [e for _, e in db.events if e.event_type == "LabResultCancelled"]
    assert len(cancelled) == 1


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_result_withdrawn_for_one_patient_is_stored_for_the_other(
    one_batch: bool,
) -> None:
    """The wrong-patient fix: F 40 sent for MRN1, posted as wrong (W), then sent for MRN2
    under the same order and test; MRN1's withdrawal sent again is a duplicate."""
    messages = [sent("1"), sent("2", "W"), sent("3", mrn="MRN2"), sent("4", "W")]
    batches = [messages] if one_batch else [[m] for m in messages]
    outcomes, db = await outcomes_of(batches)
    assert answers(outcomes) == [(True, False, None)] * 3 + [(True, True, None)]
    standing = [r for r in db.results if r.result_id not in db.cancelled and not r.cancelled_at]
    assert [(r.subject_id, r.result.value) for r in standing] == [("S-2", 40.0)]


async def test_a_new_key_is_still_assumed_new_and_a_withdrawn_one_is_read() -> None:
    """The fast path: a key that never held a result is written without a read; a key
    whose result was withdrawn is refused by the guard and read, then rejected."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([sent("1")])
    await ingest([sent("2", "X")])  # read: S-1 is remembered
    lookups, replans = db.lookups, db.replans
    (other_key,) = await ingest([message("3", key="K2")])
    assert other_key.results == 1
    assert (db.lookups, db.replans) == (lookups, replans)  # no read, no refusal
    (late,) = await ingest([sent("4")])
    assert late.code is RejectionCode.AMBIGUOUS_VERSION
    assert (db.lookups, db.replans) == (lookups + 1, replans + 1)


# Review 42: late copies under the new chain a patient has since, and a cancel-and-repost
# message after an earlier withdrawal
def combined(control_id: str, *obs: tuple[str, str]) -> IngestLabMessage:
    observations = tuple(
        ObservationInput("K", CRP, value, ("mg/L",), status=status, collected_at=AT)
        for status, value in obs
    )
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, "MRN1", observations)
    return IngestLabMessage(lab, lambda: "", AT)


@pytest.mark.parametrize("one_batch", [False, True])
async def test_cancel_and_repost_in_one_message_after_an_earlier_withdrawal(
    one_batch: bool,
) -> None:
    """README: "a final result after the cancellation in the same message start[s] a new
    result". F 40, X, then one message [X, F 40] (the lab cancels and re-posts): the X is
    a duplicate and skipped, so the F 40 is no longer "after a cancellation in its message"
    and is rejected as a late copy."""
    messages = [sent("1"), sent("2", "X"), combined("3", ("X", ""), ("F", "40"))]
    batches = [messages] if one_batch else [[m] for m in messages]
    outcomes, _ = await outcomes_of(batches)
    assert answers(outcomes)[2] == (True, False, None), answers(outcomes)


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_late_copy_under_a_new_chain_is_not_told_to_send_a_correction(
    one_batch: bool,
) -> None:
    """F 40, X, F 41 (a new chain), then the late copy F 40 of the withdrawn version: it is
    answered result-of-another-sample "send a changed final result as a correction" -- a C
    40 sent as told would make the withdrawn 40 stand again. Before F 41 arrived, the same
    copy is answered ambiguous-version ("this result was withdrawn")."""
    messages = [sent("1"), sent("2", "X"), sent("3", value="41"), sent("4")]
    batches = [messages] if one_batch else [[m] for m in messages]
    outcomes, _ = await outcomes_of(batches)
    late = outcomes[3]
    assert not late.accepted
    assert late.code is RejectionCode.AMBIGUOUS_VERSION, (late.code, late.reason)


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_late_copy_of_a_withdrawn_correction_does_not_stand_again(one_batch: bool) -> None:
    """F 40, C 4, X (the chain withdrawn: 40 and 4), F 41 (the lab's new result, a new
    chain), then the interface engine's late copy of C 4 under a new id: it supersedes 41,
    and the withdrawn 4 is the patient's published result again."""
    messages = [sent("1"), sent("2", "C", value="4"), sent("3", "X"), sent("4", value="41"),
                sent("5", "C", value="4")]  # fmt: skip
    batches = [messages] if one_batch else [[m] for m in messages]
    outcomes, db = await outcomes_of(batches)
    emitted = [(status, value) for status, value, _ in recorded(db)]
    assert emitted[-1] != ("corrected", 4.0), (answers(outcomes), emitted)
