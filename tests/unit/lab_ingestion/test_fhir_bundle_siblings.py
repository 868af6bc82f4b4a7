"""Review 72: over FHIR a ``cancelled``/``entered-in-error`` Observation that finds nothing is
left out (answered as accepted) because of a sibling in its Bundle, where alone it is
refused; the sibling vouches for nothing.

Commit 00d48b8 passes ``bundle`` (every Observation of the FHIR Bundle) to
``as_not_obtained``: an Observation that "changes nothing" under a key that never held
anything (valueless, or X/D/W) is read as X and left out when *another Observation of its
Bundle* records a value or withdraws something. README keeps the reason FHIR is refused
alone: "a FHIR result is kept under its token's name, so a `cancelled` Observation that
finds nothing may be meant for a result sent under another (a token replaced under a new
name, ...); it is refused `unknown-corrected-result`, never taken as a no-op that leaves the
result standing".

1. Batch Bundles: each entry is an independent submission with its own answer (README;
   ``fhir_routes._batch``), but ``acting`` is judged on what the siblings *say*, not on what
   happens to them. A sibling that is itself refused (here: a unit the platform cannot
   convert) stores nothing, yet the ``cancelled`` entry beside it is answered 200 with
   nothing withdrawn: exactly the lone refused case, now answered as done.

2. A sibling that records a *new* value says nothing about where the withdrawn result is
   kept. A lab whose token was replaced under a new name sends, in one transaction, the
   day's new ANC and an ``entered-in-error`` for yesterday's CRP (sent for the wrong
   patient, stored under the old token's name). The D finds nothing under the new name,
   the ANC "records a value", so the D is read as X and dropped: the transaction is
   answered 200, the wrong patient's CRP stays this subject's published result. Before
   00d48b8 the transaction was refused (the lab told). This is the review-67 hole the
   FHIR exception exists to close, reopened by any valued sibling.

Suggested fix: over FHIR read as X only Observations *without a value* (never a sent
``cancelled``/``entered-in-error``), and in a batch Bundle only beside a sibling that is
stored (or not at all: entries are independent submissions).

Since review 157 a ``cancelled`` *without a value* finding nothing is a test cancelled
before it was resulted, left out alone too (``fhir_cancellations``; refused where the
patient's result under its identifier stands under another sender's name): the siblings
below are judged on an ``entered-in-error``, which alone is still refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestTransaction
from tests.unit.lab_ingestion.fhir_samples import lab_observation as _observation
from tests.unit.lab_ingestion.fhir_samples import parsed_bundle as _bundle
from tests.unit.lab_ingestion.fhir_samples import quantity as _quantity
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 10, tzinfo=UTC)


async def _batch(db: FakeDatabase, *resources: dict[str, Any]) -> list[Any]:
    parsed = _bundle("batch", *resources)
    commands = [
        IngestLabMessage(m, lambda: "", AT, check_source=False, bundle=parsed.messages)
        for m in parsed.messages
    ]
    return [(await ingestor(db)([c]))[0] for c in commands]  # independent submissions


async def test_a_withdrawal_entry_alone_is_refused() -> None:
    """The baseline: the same ``entered-in-error`` CRP alone in a batch Bundle is refused."""
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    (alone,) = await _batch(db, _observation("CRP-9", "1988-5", status="entered-in-error"))
    assert not alone.accepted


async def test_a_withdrawal_entry_beside_a_refused_sibling_is_refused_as_alone() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    refused_sibling, cancelled = await _batch(
        db,
        _observation("ANC-1", "751-8", **_quantity(0.3, "mg")),  # a unit not converted
        _observation("CRP-9", "1988-5", status="entered-in-error"),
    )
    assert not refused_sibling.accepted and db.results == []
    assert not cancelled.accepted, (
        f"the batch entry `entered-in-error` CRP finding nothing was answered accepted "
        f"({cancelled}) because its sibling 'records a value', though that sibling was refused "
        f"({refused_sibling.code}): alone it is refused unknown-corrected-result; nothing in "
        "the Bundle acted"
    )


async def test_an_entered_in_error_for_a_result_under_the_old_token_is_not_dropped() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    old = _bundle("transaction", _observation("CRP-9", "1988-5", **_quantity(48, "mg/L")),
                  sender="old-lab")  # fmt: skip
    (stored,) = await ingestor(db)([IngestTransaction(old.messages, lambda: "", AT)])
    assert stored.accepted and [r.result.value for r in db.results] == [48.0]
    # the token replaced under a new name: the lab withdraws yesterday's CRP (wrong
    # patient) in the transaction that brings today's ANC
    new = _bundle(
        "transaction",
        _observation("ANC-2", "751-8", **_quantity(0.3, "10*9/L")),
        _observation("CRP-9", "1988-5", status="entered-in-error"),
    )
    (outcome,) = await ingestor(db)([IngestTransaction(new.messages, lambda: "", AT)])
    crp_standing = [
        r.result.value for r in db.results
        if r.result.analyte.value == "crp" and r.result_id not in db.cancelled
    ]  # fmt: skip
    assert not (outcome.accepted and crp_standing), (
        f"the transaction withdrawing the CRP was answered accepted ({outcome.code}, "
        f"results={outcome.results}) while the CRP {crp_standing} it withdraws (stored under "
        "the token's old name) stands: the entered-in-error was read as X beside the new "
        "ANC and dropped, where alone it is refused"
    )


async def test_a_withdrawal_beside_another_patients_discarded_one_is_refused() -> None:
    """A transaction whose only "acting" Observation is another patient's, not enrolled
    (discarded: nothing stored), accepts the subject's ``entered-in-error`` CRP that finds nothing
    as done; alone it is refused. Nothing in the Bundle was stored or withdrawn."""
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    other = _observation("ANC-7", "751-8", **_quantity(0.3, "10*9/L"))
    other["subject"] = {"identifier": {"system": "urn:hosp", "value": "MRN0000"}}
    new = _bundle("transaction", other, _observation("CRP-9", "1988-5", status="entered-in-error"))
    (outcome,) = await ingestor(db)([IngestTransaction(new.messages, lambda: "", AT)])
    assert db.results == []
    assert not outcome.accepted, (
        f"the subject's `entered-in-error` CRP finding nothing was accepted ({outcome}) beside an "
        "Observation of a patient not enrolled, discarded: nothing in the Bundle acted, and "
        "alone it is refused unknown-corrected-result"
    )
