"""One sample's result sent over HL7 and the lab's FHIR feed (review 181, defect 2): which
standing results a result finding nothing under its own key is a copy of, or may be meant
for (``copies_elsewhere``). A final result: a final or corrected result of the same analyte
under another sender sharing an identifier, collected within a minute; a correction or
withdrawal: any standing result so, whatever its time (it may correct the time)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.lab_ingestion.domain.copies_elsewhere import (
    StoredElsewhere,
    holding_senders,
    said_by,
    same_sample,
)
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere
from services.lab_ingestion.domain.fhir_cancellations import StandingResult, identifier_parts
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput, Rejected
from shared.contracts.events.lab import Channel

SAMPLE = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
LOINC = "http://loinc.org"
FHIR_KEYS = (frozenset({"ORD7|1988-5"}), frozenset({"ORD7"}))  # as stored (hashes, here as written)


def _crp(status: str = "F", at: datetime | None = SAMPLE) -> ObservationInput:
    return ObservationInput("ORD7|1988-5", (Coding("1988-5", LOINC),), "4", status=status,
                            collected_at=at)  # fmt: skip


def _hl7(status: str = "F", at: datetime = SAMPLE, parts: set[str] | None = None) -> StandingResult:
    """The HL7 CRP of order ORD7 standing under LIS^HOSP."""
    kept = frozenset({"ORD7"} if parts is None else parts)
    return StandingResult("LIS^HOSP", "ORD7|1988-5|", "crp", kept, status, at)


def test_a_final_result_is_a_copy_of_the_same_sample_under_another_sender() -> None:
    assert holding_senders("lab^FHIR", Channel.FHIR, _crp(), [_hl7()], FHIR_KEYS) == {"LIS^HOSP"}
    # written to the minute by one feed, to the second by the other
    seconds = _crp(at=SAMPLE + timedelta(seconds=30))
    assert holding_senders("lab^FHIR", Channel.FHIR, seconds, [_hl7()], FHIR_KEYS)


def test_another_sample_order_or_status_is_no_copy() -> None:
    later = _hl7(at=SAMPLE + timedelta(days=1))  # another draw under the same order
    other_order = _hl7(parts={"ORD8"})
    preliminary = _hl7(status="P")
    for standing in (later, other_order, preliminary):
        assert not holding_senders("lab^FHIR", Channel.FHIR, _crp(), [standing], FHIR_KEYS)
    # its own sender's result under another key is its own (an HL7 sub-id, a FHIR identifier)
    own = StandingResult("lab^FHIR", "urn:x|ORD7|1988-5", "crp", frozenset({"ORD7"}), "F", SAMPLE)
    assert not holding_senders("lab^FHIR", Channel.FHIR, _crp(), [own], FHIR_KEYS)
    # no identifier to share (an HL7 order keyed by its collection time)
    assert not holding_senders(
        "LIS^HOSP", Channel.MLLP, _crp(), [_hl7()], (frozenset(), frozenset())
    )


def test_a_correction_or_withdrawal_names_the_holder_of_the_same_sample_only() -> None:
    later = _hl7(at=SAMPLE + timedelta(hours=3))
    for status in ("C", "D", "W", "X"):
        found = holding_senders("lab^FHIR", Channel.FHIR, _crp(status), [_hl7()], FHIR_KEYS)
        assert found == {"LIS^HOSP"}, status
        # review 188: another sample's result under a coinciding order number is not it
        assert not holding_senders("lab^FHIR", Channel.FHIR, _crp(status), [later], FHIR_KEYS)
    # an HL7 sender's results under its other keys are its own (another code or sub-id)
    own = StandingResult("LIS^HOSP", "ORD7|NEUT|", "crp", frozenset({"ORD7"}), "F", SAMPLE)
    assert not holding_senders("LIS^HOSP", Channel.MLLP, _crp("C"), [own], FHIR_KEYS)


def test_parts_not_known_and_another_fhir_sender_share_nothing() -> None:
    """Review 188: a result stored before migration 0031 (parts NULL) is no copy, nor the
    result a correction or withdrawal is meant for; two FHIR senders' results never are."""
    unknown = StandingResult("LAB2^CENTRAL", "CEN9|1988-5|", "crp", None, "F", SAMPLE)
    for status in ("F", "C", "X"):
        assert not holding_senders("LIS^HOSP", Channel.MLLP, _crp(status), [unknown], FHIR_KEYS)
    other_fhir = StandingResult("central^FHIR", "x", "crp", frozenset({"ORD7"}), "F", SAMPLE,
                                channel="fhir")  # fmt: skip
    assert not holding_senders("lab^FHIR", Channel.FHIR, _crp(), [other_fhir], FHIR_KEYS)
    # the HL7 feed's copy of it is one
    assert holding_senders("LIS^HOSP", Channel.MLLP, _crp(), [other_fhir], FHIR_KEYS)


def test_review_165_cancellation_keeps_its_rule() -> None:
    """A FHIR ``cancelled`` without a value: refused while a result it may be meant for
    stands, whatever its time, and where its parts are not known (README, review 165)."""
    cancelled = ObservationInput("ORD7|1988-5", (Coding("1988-5", LOINC),), "", status="X",
                                 collected_at=SAMPLE)  # fmt: skip
    unknown = StandingResult("LIS^HOSP", "x", "crp", None, "F", SAMPLE + timedelta(days=7))
    later = _hl7(at=SAMPLE + timedelta(days=7))
    for standing in (unknown, later):
        found = holding_senders("lab^FHIR", Channel.FHIR, cancelled, [standing], FHIR_KEYS)
        assert found == {"LIS^HOSP"}


def test_a_key_made_of_the_collection_time_gives_no_identifier() -> None:
    """Review 188: ``@<time>|code|<patient>`` (no identifier) over FHIR as over HL7."""
    key = "@2026-11-20T07:15:00Z|1988-5|h(MRN1)"
    for channel in (Channel.FHIR, Channel.MLLP):
        assert identifier_parts([key], ["1988-5"], channel) == frozenset()
    assert identifier_parts(["urn:a|1001|1988-5"], ["1988-5"], Channel.FHIR) == {"1001"}


def test_a_final_copy_saying_the_same_is_a_duplicate_left_out() -> None:
    """Review 188: the HL7 panel's ANC saying what the FHIR feed's says is left out (its
    position returned), the message's other results kept; saying else: refused."""
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "H-1", "MRN1", (_crp(),))
    held = replace(_hl7(), source="lab^FHIR", channel="fhir", said=said_by(4.0, "mg/L", None))
    stored = StoredElsewhere({"S-1": [held]}, {("LIS^HOSP", "ORD7|1988-5"): FHIR_KEYS})

    def check(said: tuple[object, ...]) -> object:
        return held_elsewhere(
            message, "S-1", stored, lambda *_: True, planned=[],
            parts_of=lambda _: frozenset({"ORD7"}), said_of=lambda _: said,
        )  # fmt: skip

    assert check(said_by(4.0, "mg/L", None)) == frozenset({0})
    refused = check(said_by(5.0, "mg/L", None))
    assert isinstance(refused, Rejected) and "'lab^FHIR'" in refused.reason


def test_times_not_known_or_not_placed_do_not_part_a_sample() -> None:
    assert same_sample(SAMPLE, SAMPLE + timedelta(seconds=59))
    assert not same_sample(SAMPLE, SAMPLE + timedelta(seconds=60))
    assert same_sample(None, SAMPLE)
    assert same_sample(SAMPLE.replace(tzinfo=None), SAMPLE + timedelta(hours=2))
