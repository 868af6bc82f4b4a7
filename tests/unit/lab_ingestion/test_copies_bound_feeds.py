"""The copy rule follows a FHIR token's binding (fixer 212; ``copies_elsewhere``): a FHIR
result whose token was bound to one HL7 sender is that laboratory's FHIR feed, compared only
with that sender's HL7 results, and an HL7 result only with FHIR results bound to its sender
or to none; a FHIR result bound to none (unbound token, or stored before migration 0039)
is compared with every HL7 sender's, as before."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.copies_elsewhere import (
    StoredElsewhere,
    copies_of,
    feed_of,
    holding_senders,
    of_one_laboratory,
    said_by,
)
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere
from services.lab_ingestion.domain.fhir_cancellations import StandingResult
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
)
from services.lab_ingestion.domain.planned_copies import planned_elsewhere
from services.lab_ingestion.domain.records import ResultRecord
from shared.contracts.events.lab import Analyte, Channel

SAMPLE = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
LOINC = "http://loinc.org"
PARTS = frozenset({"ORD1"})
HL7_KEYS = (frozenset({"ORD1|1988-5|"}), PARTS)
FHIR_KEYS = (frozenset({"ORD1|1988-5"}), PARTS)
SENDERS = st.sampled_from(["LAB1^F1", "LAB2^F2", "LIS^HOSP"])
FEEDS = st.one_of(st.none(), SENDERS)


def _crp(status: str = "F", value: str = "40", key: str = "ORD1|1988-5|") -> ObservationInput:
    return ObservationInput(key, (Coding("1988-5", LOINC),), value, status=status,
                            collected_at=SAMPLE + timedelta(seconds=30))  # fmt: skip


def _fhir(feed: str | None, value: float = 12.0) -> StandingResult:
    """``lab1^FHIR``'s CRP under ORD1, stored while its token was bound to ``feed``."""
    return StandingResult("lab1^FHIR", "ORD1|1988-5", "crp", PARTS, "F", SAMPLE, "fhir",
                          said_by(value, "mg/L", None), feed_of=feed)  # fmt: skip


def _hl7(source: str, value: float = 40.0) -> StandingResult:
    return StandingResult(source, "ORD1|1988-5|", "crp", PARTS, "F", SAMPLE, "mllp",
                          said_by(value, "mg/L", None))  # fmt: skip


@given(SENDERS, SENDERS, FEEDS)
def test_a_fhir_result_is_one_laboratorys_with_its_bound_sender_or_any_when_unbound(
    hl7: str, fhir: str, feed: str | None
) -> None:
    """Symmetric; an HL7 result (no feed) with a FHIR one exactly when that one is bound to
    none or to that HL7 sender."""
    expected = feed is None or feed == hl7
    assert of_one_laboratory(hl7, None, fhir, feed) is expected
    assert of_one_laboratory(fhir, feed, hl7, None) is expected


@given(st.sampled_from(list(Channel)), st.one_of(st.none(), st.tuples(SENDERS, SENDERS)))
def test_a_messages_feed_is_its_fhir_tokens_one_sender(
    channel: Channel, configured_as: tuple[str, str] | None
) -> None:
    message = LabMessage(channel, "lab1", "FHIR", "C-1", "MRN1", configured_as=configured_as)
    expected = "^".join(configured_as) if channel is Channel.FHIR and configured_as else None
    assert feed_of(message) == expected


def test_an_hl7_result_counts_only_fhir_results_of_its_laboratory_or_unbound() -> None:
    for feed, counted in ((None, True), ("LAB2^F2", True), ("LAB1^F1", False)):
        found = copies_of("LAB2^F2", Channel.MLLP, _crp(), [_fhir(feed)], HL7_KEYS)
        assert (found != []) is counted, feed


def test_a_bound_fhir_result_counts_only_its_senders_hl7_results() -> None:
    standing = [_hl7("LAB1^F1"), _hl7("LAB2^F2")]
    fhir = _crp(key="ORD1|1988-5")
    found = copies_of("lab1^FHIR", Channel.FHIR, fhir, standing, FHIR_KEYS, feed="LAB1^F1")
    assert [r.source for r in found] == ["LAB1^F1"]
    unbound = copies_of("lab1^FHIR", Channel.FHIR, fhir, standing, FHIR_KEYS)
    assert [r.source for r in unbound] == ["LAB1^F1", "LAB2^F2"]
    assert (
        holding_senders(
            "lab1^FHIR", Channel.FHIR, fhir, [_hl7("LAB2^F2")], FHIR_KEYS, feed="LAB1^F1"
        )
        == frozenset()
    )


def test_a_bound_fhir_cancellation_never_names_another_laboratorys_hl7_result() -> None:
    """A FHIR ``cancelled`` without a value (review 165's rule) of a token bound to LAB1^F1:
    LAB2^F2's HL7 result under ORD1 is no result it may be meant for; LAB1's is, and so is
    another FHIR token's (a replaced token's name)."""
    cancelled = _crp("X", "", key="ORD1|1988-5")
    standing = [_hl7("LAB2^F2"), _hl7("LAB1^F1"), replace(_fhir(None), source="old^FHIR")]
    for feed, expected in (
        ("LAB1^F1", {"LAB1^F1", "old^FHIR"}),
        (None, {"LAB1^F1", "LAB2^F2", "old^FHIR"}),
    ):
        found = holding_senders("lab1^FHIR", Channel.FHIR, cancelled, standing, FHIR_KEYS,
                                feed=feed)  # fmt: skip
        assert found == expected, feed


def _planned(source: str) -> ResultRecord:
    crp = NormalisedResult(Analyte.CRP, "1988-5", 12.0, "mg/L", "12", "mg/L", None, None, None)
    return ResultRecord(uuid.uuid4(), uuid.uuid4(), "S-1", source, "ORD1|1988-5", "F", crp,
                        SAMPLE, None, None, identifier_parts=PARTS)  # fmt: skip


def test_the_batchs_own_results_count_by_their_laboratory_too() -> None:
    record = _planned("lab1^FHIR")
    for feed, counted in ((None, True), ("LAB2^F2", True), ("LAB1^F1", False)):
        found = planned_elsewhere("LAB2^F2", "S-1", _crp(), PARTS, [(record, "fhir", feed)],
                                  channel=Channel.MLLP)  # fmt: skip
        assert (found == [record]) is counted, feed
    hl7 = _planned("LAB2^F2")
    for feed, counted in ((None, True), ("LAB2^F2", True), ("LAB1^F1", False)):
        fhir = _crp(key="ORD1|1988-5")
        found = planned_elsewhere("lab1^FHIR", "S-1", fhir, PARTS, [(hl7, "mllp", None)],
                                  channel=Channel.FHIR, feed=feed)  # fmt: skip
        assert (found == [hl7]) is counted, feed


@given(SENDERS, FEEDS, st.sampled_from([12.0, 40.0]))
def test_an_hl7_final_beside_a_fhir_one_is_stored_unless_of_its_laboratory(
    sender: str, feed: str | None, value: float
) -> None:
    """``held_elsewhere`` of an HL7 final beside ``lab1^FHIR``'s 12 (bound to ``feed``): of
    another laboratory, nothing to refuse nor leave out; of its own (or unbound), the
    present rule: 12 a duplicate (left out), anything else refused."""
    application, facility = sender.split("^")
    message = LabMessage(Channel.MLLP, application, facility, "M-1", "MRN1", (_crp(),))
    stored = StoredElsewhere(
        standing={"S-1": [_fhir(feed)]}, keys={(sender, "ORD1|1988-5|"): HL7_KEYS}
    )
    said = said_by(value, "mg/L", None)
    found = held_elsewhere(message, "S-1", stored, lambda *_: True, planned=[],
                           parts_of=lambda _: PARTS, said_of=lambda _: said)  # fmt: skip
    if feed is not None and feed != sender:
        assert found == frozenset()
    elif value == 12.0:
        assert found == frozenset({0})
    else:
        assert isinstance(found, Rejected) and "lab1^FHIR" in found.reason
