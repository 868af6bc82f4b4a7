"""Review 192's findings on the copy rule (``copies_elsewhere``):

1. it is for a lab's HL7 feed and its FHIR feed only: two HL7 senders whose order numbers
   coincide are two laboratories (each sender's numbers are its own namespace), as two FHIR
   senders are; a JSON result is never a copy;
2. a correction or withdrawal finding nothing under its own key, saying what the other
   feed's chain says already (a correction: its head's value; a withdrawal: the chain
   withdrawn), is a duplicate, left out; saying anything else it is refused as before."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.lab_ingestion.domain.copies_elsewhere import (
    StoredElsewhere,
    across_feeds,
    copies_of,
    said_by,
)
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere, says_again
from services.lab_ingestion.domain.fhir_cancellations import StandingResult
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.planned_copies import planned_elsewhere
from services.lab_ingestion.domain.records import ResultRecord
from shared.contracts.events.lab import Analyte, Channel

SAMPLE = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
LOINC = "http://loinc.org"
KEYS = (frozenset({"ORD1|1988-5|"}), frozenset({"ORD1"}))  # as stored (hashes, here as written)
FHIR_KEYS = (frozenset({"ORD1|1988-5"}), frozenset({"ORD1"}))


def _crp(status: str = "F", value: str = "40") -> ObservationInput:
    return ObservationInput("ORD1|1988-5|", (Coding("1988-5", LOINC),), value, status=status,
                            collected_at=SAMPLE + timedelta(seconds=30))  # fmt: skip


def _held(
    source: str = "LIS^HOSP", channel: str = "mllp", value: float = 40.0, **more: object
) -> StandingResult:
    """``source``'s CRP of its order ORD1, of the same sample, saying ``value``."""
    found = StandingResult(source, "ORD1|1988-5|", "crp", frozenset({"ORD1"}), "F", SAMPLE,
                           channel, said_by(value, "mg/L", None))  # fmt: skip
    return replace(found, **more)  # type: ignore[arg-type]


def test_only_an_hl7_feed_and_a_fhir_feed_are_one_labs_two_feeds() -> None:
    for hl7 in (Channel.MLLP, Channel.HL7_HTTP):
        assert across_feeds(hl7, Channel.FHIR) and across_feeds(Channel.FHIR, hl7.value)
        for other in (Channel.MLLP, Channel.HL7_HTTP, Channel.JSON, None):
            assert not across_feeds(hl7, other), (hl7, other)
    assert not across_feeds(Channel.FHIR, Channel.FHIR)
    assert not across_feeds(Channel.JSON, Channel.FHIR)


def test_two_hl7_laboratories_under_coinciding_order_numbers_hold_no_copy() -> None:
    """LAB2^CENTRAL's CRP of its order ORD1 and LIS^HOSP's of its own ORD1: neither over
    MLLP nor POST /v1/hl7 is the other's copy, nor a JSON result; the FHIR feed's is."""
    for channel in ("mllp", "hl7-http", "json"):
        for status in ("F", "C", "D"):
            found = copies_of("LAB2^CENTRAL", Channel.MLLP, _crp(status), [_held(channel=channel)],
                              KEYS)  # fmt: skip
            assert found == [], (channel, status)
    fhir = _held("lab^FHIR", "fhir")
    assert copies_of("LAB2^CENTRAL", Channel.HL7_HTTP, _crp(), [fhir], KEYS) == [fhir]
    message = LabMessage(Channel.MLLP, "LAB2", "CENTRAL", "C-1", "MRN1", (_crp("F", "38"),))
    stored = StoredElsewhere({"S-1": [_held()]}, {("LAB2^CENTRAL", "ORD1|1988-5|"): KEYS})
    left_out = held_elsewhere(
        message, "S-1", stored, lambda *_: True, planned=[], parts_of=lambda _: frozenset({"ORD1"}),
        said_of=lambda _: said_by(38.0, "mg/L", None),
    )  # fmt: skip
    assert left_out == frozenset()


def test_the_batchs_own_results_of_another_hl7_laboratory_are_no_copy() -> None:
    crp = NormalisedResult(Analyte.CRP, "1988-5", 40.0, "mg/L", "40", "mg/L", None, None, None)
    parts = frozenset({"ORD1"})
    record = ResultRecord(uuid.uuid4(), uuid.uuid4(), "S-1", "LIS^HOSP", "ORD1|1988-5|", "F",
                          crp, SAMPLE, None, None, identifier_parts=parts)  # fmt: skip
    for channel in ("mllp", "hl7-http", "json"):
        found = planned_elsewhere("LAB2^CENTRAL", "S-1", _crp(), parts, [(record, channel, None)],
                                  channel=Channel.MLLP)  # fmt: skip
        assert found == [], channel
    assert planned_elsewhere("lab^FHIR", "S-1", _crp(), parts, [(record, "mllp", None)],
                             channel=Channel.FHIR) == [record]  # fmt: skip


def test_a_correction_saying_what_the_other_feeds_chain_says_now_is_a_duplicate() -> None:
    """The HL7 chain F 12, C 15 (its head): a FHIR correction to 15 says it again, one to 12
    (the replaced value) or 16 does not; a chain with only a preliminary, or the batch's
    own versions, never tell."""
    chain = [_held(value=12.0, head=False), _held(value=15.0, status="C")]
    fifteen, twelve = said_by(15.0, "mg/L", None), said_by(12.0, "mg/L", None)
    assert says_again(_crp("C"), fifteen, chain, [], [])
    assert not says_again(_crp("C"), twelve, chain, [], [])
    assert not says_again(_crp("C"), said_by(16.0, "mg/L", None), chain, [], [])
    assert not says_again(_crp("C"), None, chain, [], [])
    assert not says_again(_crp("C"), fifteen, [_held(value=15.0, status="P", head=False)], [], [])
    # two chains (two HL7 senders the FHIR result may be meant for) must both say it
    other = _held("LAB2^CENTRAL", value=16.0)
    assert not says_again(_crp("C"), fifteen, [*chain, other], [], [])
    batch = ResultRecord(uuid.uuid4(), uuid.uuid4(), "S-1", "LIS^HOSP", "k", "C",
                         NormalisedResult(Analyte.CRP, "1988-5", 15.0, "mg/L", "15", "mg/L",
                                          None, None, None), SAMPLE, None, None)  # fmt: skip
    assert not says_again(_crp("C"), fifteen, chain, [], [batch])


def test_a_withdrawal_of_a_chain_the_other_feed_withdrew_is_a_duplicate() -> None:
    gone = [_held()]
    for status in ("D", "W", "X"):
        assert says_again(_crp(status, ""), None, [], gone, []), status
        assert not says_again(_crp(status, ""), None, [_held(value=7.0)], gone, [])
        assert not says_again(_crp(status, ""), None, [], [], [])


def _changed(status: str, value: float | None, stored: StoredElsewhere) -> object:
    message = LabMessage(Channel.FHIR, "lab", "FHIR", "O-1", "MRN1", (_crp(status),))
    said = None if value is None else said_by(value, "mg/L", None)
    return held_elsewhere(
        message, "S-1", stored, lambda *_: True, planned=[],
        parts_of=lambda _: frozenset({"ORD1"}), said_of=lambda _: said,
    )  # fmt: skip


def test_the_same_correction_over_both_feeds_is_left_out_another_refused() -> None:
    """Through ``held_elsewhere``: the FHIR feed's correction to 15 of the HL7 chain F 12,
    C 15 is left out (its position returned); to 16, refused naming LIS^HOSP."""
    chain = [_held(value=12.0, head=False), _held(value=15.0, status="C")]
    stored = StoredElsewhere({"S-1": chain}, {("lab^FHIR", "ORD1|1988-5|"): FHIR_KEYS})
    assert _changed("C", 15.0, stored) == frozenset({0})
    refused = _changed("C", 16.0, stored)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
    assert "'LIS^HOSP'" in refused.reason


def test_a_withdrawal_is_a_duplicate_only_of_a_chain_the_other_feed_withdrew() -> None:
    keys = {("lab^FHIR", "ORD1|1988-5|"): FHIR_KEYS}
    withdrawn = StoredElsewhere({}, keys, {"S-1": [_held()]})
    assert _changed("D", None, withdrawn) == frozenset({0})
    standing = StoredElsewhere({"S-1": [_held()]}, keys)
    refused = _changed("D", None, standing)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
    # another FHIR sender's withdrawn result is no copy: nothing found, the chain checks tell
    other_fhir = StoredElsewhere({}, keys, {"S-1": [_held("central^FHIR", "fhir")]})
    assert _changed("D", None, other_fhir) == frozenset()


def test_a_fhir_tokens_own_result_under_another_key_is_still_refused() -> None:
    """Review 165: a token's own result under another key (its identifiers changed) is
    named, never taken for the other feed's copy, whatever it says."""
    own = _held("lab^FHIR", "fhir", value=15.0, stored_key="urn:x|ORD1|1988-5")
    stored = StoredElsewhere({"S-1": [own]}, {("lab^FHIR", "ORD1|1988-5|"): FHIR_KEYS})
    refused = _changed("C", 15.0, stored)
    assert isinstance(refused, Rejected) and "'lab^FHIR'" in refused.reason
