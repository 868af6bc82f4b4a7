"""Review 157: a FHIR ``cancelled`` without a value whose key never held anything is a test
cancelled before it was resulted: left out as HL7's X there is (nothing to withdraw, nothing
recorded), alone, in a batch and in a transaction, whose grade-4 ANC is stored. Before, it
was refused ``unknown-corrected-result``, "send the final result first" (there is none to
send), and a transaction lost its ANC with it.

Kept: a ``cancelled`` withdraws what its key holds; one carrying a value, and an
``entered-in-error``, finding nothing are refused, each told what to do; and one whose
patient holds a result under its identifier under another sender's name (a token replaced
under a new name) is refused naming that sender, never left out while the result stands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere
from services.lab_ingestion.domain.fhir_cancellations import (
    StandingResult,
    cancelled_before_resulting,
)
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.reason_wording import for_fhir
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
)
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.fhir_samples import lab_observation as _observation
from tests.unit.lab_ingestion.fhir_samples import parsed_bundle as _bundle
from tests.unit.lab_ingestion.fhir_samples import quantity as _quantity
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 10, tzinfo=UTC)
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
NOT_PERFORMED = {"dataAbsentReason": {"coding": [{"system": ABSENT, "code": "not-performed"}]}}
ANC = _observation("ANC-1", "751-8", **_quantity(0.2, "10*9/L"))


def _cancelled(**more: Any) -> dict[str, Any]:
    """A platelet count cancelled (under ``PLT-1``)."""
    return _observation("PLT-1", "777-3", status="cancelled", **more)


def _db() -> FakeDatabase:
    return FakeDatabase(enrolled={"h(MRN4711)": "S-1"})


async def _transaction(
    db: FakeDatabase, *resources: dict[str, Any], sender: str = "central-lab"
) -> IngestOutcome:
    parsed = _bundle("transaction", *resources, sender=sender)
    (outcome,) = await ingestor(db)([IngestTransaction(parsed.messages, lambda: "", AT)])
    return outcome


async def _alone(
    db: FakeDatabase, resource: dict[str, Any], sender: str = "central-lab"
) -> IngestOutcome:
    (message,) = _bundle("batch", resource, sender=sender).messages
    (outcome,) = await ingestor(db)([IngestLabMessage(message, lambda: "", AT, check_source=False)])
    return outcome


def _standing(db: FakeDatabase) -> list[tuple[str, float]]:
    return [
        (r.result.analyte.value, r.result.value) for r in db.results
        if r.result_id not in db.cancelled
    ]  # fmt: skip


@pytest.mark.parametrize("more", [NOT_PERFORMED, {}], ids=["data-absent-reason", "no-value"])
async def test_a_transaction_keeps_its_anc_beside_a_test_cancelled_before_resulting(
    more: dict[str, Any],
) -> None:
    db = _db()
    outcome = await _transaction(db, ANC, _cancelled(**more))
    assert outcome.accepted, (outcome.code, outcome.reason)
    assert _standing(db) == [("neutrophils", 0.2)]
    assert [part.not_obtained for part in outcome.parts] == [0, 1]


async def test_alone_it_is_accepted_with_nothing_stored_and_a_final_result_later_is_new() -> None:
    db = _db()
    outcome = await _alone(db, _cancelled())
    assert outcome.accepted and outcome.not_obtained == 1 and not outcome.duplicate
    assert db.results == []
    later = await _alone(db, _observation("PLT-1", "777-3", **_quantity(150, "10*9/L")))
    assert later.accepted and _standing(db) == [("platelets", 150.0)]


async def test_a_cancelled_still_withdraws_what_its_key_holds() -> None:
    db = _db()
    assert (await _alone(db, _observation("PLT-1", "777-3", **_quantity(150, "10*9/L")))).accepted
    outcome = await _alone(db, _cancelled())
    assert outcome.accepted and outcome.cancelled == 1 and _standing(db) == []


@pytest.mark.parametrize(
    "refused",
    [
        _observation("PLT-1", "777-3", status="cancelled", **_quantity(150, "10*9/L")),
        _observation("PLT-1", "777-3", status="entered-in-error"),
    ],
    ids=["cancelled-with-a-value", "entered-in-error"],
)
async def test_what_still_finds_nothing_is_refused_and_told_what_to_do(
    refused: dict[str, Any],
) -> None:
    db = _db()
    outcome = await _transaction(db, ANC, refused)
    assert not outcome.accepted and outcome.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
    assert db.results == []
    assert "send the final result first" not in outcome.reason
    assert "withdraw a result under the identifier (Observation.identifier) it was stored" in (
        outcome.reason
    ), outcome.reason
    assert "with status cancelled, without a value" in outcome.reason, outcome.reason


async def test_a_cancelled_from_a_renamed_token_is_refused_while_the_result_stands() -> None:
    db = _db()
    stored = await _alone(db, _observation("PLT-1", "777-3", **_quantity(150, "10*9/L")),
                          sender="old-lab")  # fmt: skip
    assert stored.accepted
    for outcome in (
        await _alone(db, _cancelled()),
        await _transaction(db, ANC, _cancelled()),
    ):
        assert not outcome.accepted and outcome.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
        reason = outcome.reason.removeprefix("transaction rejected: ")
        assert reason.startswith("send the cancellation the way the result was sent"
                                 " (sender 'old-lab^FHIR'"), reason  # fmt: skip
    assert _standing(db) == [("platelets", 150.0)]


async def test_another_patients_result_under_another_senders_name_is_no_reason() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1", "h(MRN0042)": "S-2"})
    other = _observation("PLT-1", "777-3", **_quantity(150, "10*9/L"))
    other["subject"] = {"identifier": {"system": "urn:hosp", "value": "MRN0042"}}
    assert (await _alone(db, other, sender="old-lab")).accepted
    outcome = await _alone(db, _cancelled())
    assert outcome.accepted and outcome.not_obtained == 1, (outcome.code, outcome.reason)


def test_only_a_fhir_cancelled_without_a_value_is_one_never_resulted() -> None:
    (cancelled,) = _bundle("batch", _cancelled(**NOT_PERFORMED)).messages
    (valued,) = _bundle("batch", _cancelled(**_quantity(1, "10*9/L"))).messages
    (withdrawn,) = _bundle("batch", _observation("X", "777-3", status="entered-in-error")).messages
    assert cancelled_before_resulting(cancelled.observations[0], Channel.FHIR)
    assert not cancelled_before_resulting(cancelled.observations[0], Channel.MLLP)
    assert not cancelled_before_resulting(valued.observations[0], Channel.FHIR)
    assert not cancelled_before_resulting(withdrawn.observations[0], Channel.FHIR)


def test_the_other_senders_are_named_only_where_the_key_finds_nothing_under_its_own() -> None:
    (message,) = _bundle("batch", _cancelled()).messages
    key = message.observations[0].result_key

    def elsewhere(source: str, stored_key: str = "elsewhere") -> StoredElsewhere:
        standing = StandingResult(source, stored_key, "platelets", None)
        keys = {(message.source, key): (frozenset({key}), frozenset({"part"}))}
        return StoredElsewhere({"S-1": [standing]}, keys)

    def refused(stored: StoredElsewhere, subject: str = "S-1", empty: bool = True) -> Any:
        found = held_elsewhere(
            message, subject, stored, lambda *_: empty, planned=[],
            parts_of=lambda _: frozenset(), said_of=lambda _: None,
        )  # fmt: skip
        return found or None

    held = elsewhere("old-lab^FHIR")
    found = refused(held)
    assert found is not None and found.observation == 0
    assert "'old-lab^FHIR'" in for_fhir(found.reason)
    assert refused(held, empty=False) is None
    assert refused(held, subject="S-2") is None
    # its own token's name is named too (review 165), for a result under another key
    # sharing an identifier (``sharing_senders``), never its own key's
    assert refused(elsewhere(message.source)) is not None
    assert refused(elsewhere(message.source, key)) is None
