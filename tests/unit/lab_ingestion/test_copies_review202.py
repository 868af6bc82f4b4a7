"""Review 202's findings on the copy rule between a lab's HL7 and FHIR feeds
(``copies_elsewhere``):

1. (and 3) a correction or withdrawal under a key holding only a preliminary result, while
   the other feed's final result of the sample stands, is refused naming that feed's sender
   (as under an empty key), never applied to the preliminary alone (which left the other
   feed's final standing) nor told "send the final result first";
2. a withdrawn result stays withdrawn across feeds: a final result saying what the other
   feed's withdrawn result of the sample said is refused ``ambiguous-version``; one saying
   anything else is a new result;
4. a result of the batch withdrawn earlier in it is withdrawn, never standing: the same
   outcomes in one batch as across batches."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere, said_by
from services.lab_ingestion.domain.copy_outcomes import (
    as_batch_left,
    held_elsewhere,
    withdrawn_saying,
)
from services.lab_ingestion.domain.fhir_cancellations import StandingResult
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EarlierResult, ResultRecord, Sender
from services.lab_ingestion.service_layer.batch_context import BatchContext
from shared.contracts.events.lab import Analyte, Channel

SAMPLE = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
LOINC = "http://loinc.org"
HL7_KEY = ("LIS^HOSP", "ORD7|1988-5|")
FHIR_KEY = ("central-lab^FHIR", "ORD7|1988-5")
ORD7 = frozenset({"ORD7"})
STORED_KEYS = {  # as stored (hashes, here as written)
    HL7_KEY: (frozenset({HL7_KEY[1]}), ORD7),
    FHIR_KEY: (frozenset({FHIR_KEY[1]}), ORD7),
}
TWELVE = said_by(12.0, "mg/L", None)


def _crp(key: tuple[str, str], status: str = "F", value: str = "12") -> ObservationInput:
    return ObservationInput(key[1], (Coding("1988-5", LOINC),), value, status=status,
                            collected_at=SAMPLE)  # fmt: skip


def _held(key: tuple[str, str], status: str = "F", value: float = 12.0,
          **more: object) -> StandingResult:  # fmt: skip
    """``key``'s sender's CRP of order ORD7, of the sample, saying ``value``."""
    channel = "fhir" if key == FHIR_KEY else "mllp"
    found = StandingResult(key[0], key[1], "crp", ORD7, status, SAMPLE, channel,
                           said_by(value, "mg/L", None))  # fmt: skip
    return replace(found, **more)  # type: ignore[arg-type]


def _planned(key: tuple[str, str], *, withdrawn: bool = False) -> ResultRecord:
    crp = NormalisedResult(Analyte.CRP, "1988-5", 12.0, "mg/L", "12", "mg/L", None, None, None)
    return ResultRecord(uuid.uuid4(), uuid.uuid4(), "S-1", key[0], key[1], "F", crp, SAMPLE,
                        None, None, cancelled_at=SAMPLE if withdrawn else None,
                        identifier_parts=ORD7)  # fmt: skip


def _check(
    key: tuple[str, str], status: str, stored: StoredElsewhere, *,
    said: tuple[object, ...] | None = TWELVE, preliminary: bool = False,
    planned: list[ResultRecord] | None = None, withdrawn_ids: frozenset[uuid.UUID] = frozenset(),
) -> Rejected | frozenset[int]:  # fmt: skip
    """``held_elsewhere`` for one result of ``status`` under ``key`` (its key holding no final
    result; ``preliminary``: holding a preliminary one)."""
    channel = Channel.FHIR if key == FHIR_KEY else Channel.MLLP
    application, facility = key[0].split("^")
    message = LabMessage(channel, application, facility, "M-1", "MRN1", (_crp(key, status),))
    return held_elsewhere(
        message, "S-1", stored, lambda *_: True,
        planned=[(r, "fhir" if r.source == FHIR_KEY[0] else "mllp", None) for r in planned or ()],
        parts_of=lambda _: ORD7, said_of=lambda _: said,
        preliminary=lambda *_: preliminary, withdrawn_ids=withdrawn_ids,
    )  # fmt: skip


def _refused(found: object, code: RejectionCode, sender: str) -> None:
    assert isinstance(found, Rejected), found
    assert found.code is code and repr(sender) in found.reason, found
    assert "send the final result first" not in found.reason, found.reason


def test_a_key_holding_only_a_preliminary_is_checked_for_every_status() -> None:
    """The careful path's context: a key holding the patient's preliminary only finds nothing
    for a correction or withdrawal too (before: only a final was checked there)."""
    context = BatchContext({("LIS", "HOSP"): Sender()}, {}, {}, {})
    context.preliminary[(*HL7_KEY, "S-1")] = EarlierResult(uuid.uuid4(), "S-1", "crp", SAMPLE)
    for status in ("F", "C", "W", "D", "X"):
        assert context.unheld(HL7_KEY, status, "S-1"), status
    assert context.holds_preliminary(HL7_KEY, "S-1")
    assert not context.holds_preliminary(FHIR_KEY, "S-1")
    assert not context.holds_preliminary(HL7_KEY, "S-2")  # another patient's (review 209)
    context.latest[HL7_KEY] = EarlierResult(uuid.uuid4(), "S-1", "crp", SAMPLE)
    for status in ("F", "C", "W", "D", "X"):
        assert not context.unheld(HL7_KEY, status, "S-1"), status


def test_a_withdrawal_over_a_preliminary_is_refused_while_the_other_feeds_final_stands() -> None:
    stored = StoredElsewhere({"S-1": [_held(FHIR_KEY)]}, STORED_KEYS)
    for status in ("W", "D", "X"):
        found = _check(HL7_KEY, status, stored, said=None, preliminary=True)
        _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, FHIR_KEY[0])
    mirror = StoredElsewhere({"S-1": [_held(HL7_KEY)]}, STORED_KEYS)
    found = _check(FHIR_KEY, "W", mirror, said=None, preliminary=True)
    _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, HL7_KEY[0])
    # the other feed's final planned earlier in the batch, as stored
    found = _check(HL7_KEY, "W", StoredElsewhere(), said=None, preliminary=True,
                   planned=[_planned(FHIR_KEY)])  # fmt: skip
    _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, FHIR_KEY[0])


def test_a_withdrawal_over_a_preliminary_withdraws_it_where_no_other_final_stands() -> None:
    """The other feed holding a preliminary only, or its chain withdrawn: the withdrawal acts
    on its own preliminary (never left out as a duplicate: it has something to withdraw)."""
    for stored in (
        StoredElsewhere({"S-1": [_held(FHIR_KEY, "P")]}, STORED_KEYS),
        StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(FHIR_KEY)]}),
    ):
        assert _check(HL7_KEY, "W", stored, said=None, preliminary=True) == frozenset()


def test_a_correction_over_a_preliminary_names_the_other_feed_or_is_its_duplicate() -> None:
    stored = StoredElsewhere({"S-1": [_held(FHIR_KEY)]}, STORED_KEYS)
    fifteen = said_by(15.0, "mg/L", None)
    found = _check(HL7_KEY, "C", stored, said=fifteen, preliminary=True)
    _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, FHIR_KEY[0])
    assert _check(HL7_KEY, "C", stored, preliminary=True) == frozenset({0})  # says 12 again
    mirror = StoredElsewhere({"S-1": [_held(HL7_KEY)]}, STORED_KEYS)
    found = _check(FHIR_KEY, "C", mirror, said=fifteen, preliminary=True)
    _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, HL7_KEY[0])


def test_a_final_saying_what_the_other_feeds_withdrawn_result_said_is_a_late_copy() -> None:
    gone = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(HL7_KEY)]})
    found = _check(FHIR_KEY, "F", gone)
    _refused(found, RejectionCode.AMBIGUOUS_VERSION, HL7_KEY[0])
    assert "withdrawn" in found.reason  # type: ignore[union-attr]
    mirror = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(FHIR_KEY)]})
    _refused(_check(HL7_KEY, "F", mirror), RejectionCode.AMBIGUOUS_VERSION, FHIR_KEY[0])
    # another value is a new result, as over one feed; a withdrawn preliminary is no copy
    assert _check(FHIR_KEY, "F", gone, said=said_by(13.0, "mg/L", None)) == frozenset()
    preliminary = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(HL7_KEY, "P")]})
    assert _check(FHIR_KEY, "F", preliminary) == frozenset()
    # a standing result of the sample saying it still makes it a duplicate
    both = StoredElsewhere({"S-1": [_held(HL7_KEY)]}, STORED_KEYS, {"S-1": [_held(HL7_KEY)]})
    assert _check(FHIR_KEY, "F", both) == frozenset({0})


def test_the_batchs_own_withdrawn_result_is_withdrawn_not_standing() -> None:
    """Review 202, defect 4: HL7 F 12 and its W earlier in the batch; the FHIR final 12 is
    refused as in a later batch (before: left out as a duplicate of what nothing stands
    as); 13 is stored; the FHIR withdrawal is a duplicate, as in a later batch."""
    planned = [_planned(HL7_KEY, withdrawn=True)]
    found = _check(FHIR_KEY, "F", StoredElsewhere(), planned=planned)
    _refused(found, RejectionCode.AMBIGUOUS_VERSION, HL7_KEY[0])
    other = said_by(13.0, "mg/L", None)
    assert _check(FHIR_KEY, "F", StoredElsewhere(), said=other, planned=planned) == frozenset()
    assert _check(FHIR_KEY, "W", StoredElsewhere(), said=None, planned=planned) == frozenset({0})


def test_a_stored_chain_the_batch_withdrew_counts_as_withdrawn() -> None:
    """HL7 F 12 stored, its W earlier in the batch (the batch withdrew the chain's head by
    id): a FHIR final 12 is refused as a late copy, its withdrawal is a duplicate."""
    head, first = uuid.uuid4(), uuid.uuid4()
    chain = [_held(HL7_KEY, result_id=first, head=False),
             _held(HL7_KEY, "C", 15.0, result_id=head)]  # fmt: skip
    other = _held(FHIR_KEY, value=7.0, stored_key="urn:x|ORD8|1988-5")
    standing, withdrawn = as_batch_left([*chain, other], [], frozenset({head}))
    assert (standing, withdrawn) == ([other], chain)
    stored = StoredElsewhere({"S-1": chain}, STORED_KEYS)
    found = _check(FHIR_KEY, "F", stored, withdrawn_ids=frozenset({head}))
    _refused(found, RejectionCode.AMBIGUOUS_VERSION, HL7_KEY[0])
    withdrawal = _check(FHIR_KEY, "W", stored, said=None, withdrawn_ids=frozenset({head}))
    assert withdrawal == frozenset({0})


def test_withdrawn_saying_names_the_senders_of_withdrawn_finals_saying_it() -> None:
    gone = [_held(HL7_KEY), _held(HL7_KEY, "P"), _held(("LAB2^X", "k"), value=13.0)]
    assert withdrawn_saying(TWELVE, gone, []) == {HL7_KEY[0]}
    assert withdrawn_saying(None, gone, []) == frozenset()
    batch = [_planned(FHIR_KEY, withdrawn=True)]
    assert withdrawn_saying(TWELVE, [], batch) == {FHIR_KEY[0]}
