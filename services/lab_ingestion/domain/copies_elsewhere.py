"""One sample's result reported by two feeds of a laboratory (pure: no I/O).

A laboratory may send its results over HL7 and over its FHIR feed. Each sender keeps its
results under its own keys (HL7: ``ORD7|1988-5|``, order, test and sub-id; FHIR:
``ORD7|1988-5``, the identifier typed FILL and the test), so one sample sent both ways was two
results, and a correction or withdrawal sent one way left the other standing (review 181:
crp-monitor served the stale value beside the corrected one).

So a trial result over HL7 or FHIR whose own key never held anything, for anyone, while the
patient holds a standing result of the same analyte under another sender (or, for a change,
under another of its own keys) whose key shares an identifier with its keys
(``fhir_cancellations.identifier_parts``: the order number, a FHIR identifier without its
system), is refused naming those senders, never stored beside it:

- a final result (``F``) is a second copy of that result only when the standing one is final
  or corrected, under another sender's name, and of a sample collected within
  ``SAME_SAMPLE`` of its own (both times as stored: an order number may hold several
  samples, as OBX-4 sub-ids, and each is a result of its own). The lab corrects or withdraws
  the result through the feed that holds it.
- a correction or a withdrawal (``C``, ``X``, ``D``, ``W``) finding nothing under its key is
  told which senders hold a result it may be meant for, whatever their times (a correction
  may correct the collection time): it is refused in any case, and told "send the final
  result first" it would make the second copy (review 181). A FHIR ``cancelled`` without a
  value is review 165's case: left out as a test never resulted only where no such result
  stands; an HL7 ``X`` likewise. A FHIR token's own results under other keys count too
  (review 165: a token's keys changed with its identifiers); an HL7 sender's do not (its
  keys tell its own results apart: another test code or OBX-4 sub-id of the order).

JSON results are keyed by the lab's own ``result_id``, never an order number: not checked.
Results planned earlier in the same batch count as stored ones do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.fhir_cancellations import (
    StandingResult,
    held_elsewhere_reason,
    sharing_senders,
)
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.records import ResultRecord
from services.lab_ingestion.domain.result_status import CANCELLING, EMITTED, status_of
from shared.contracts.events.lab import Channel

SourceKey = tuple[str, str]
# two collection times of one sample: as written to the minute by one feed, to the second by
# the other (08:15 and 08:15:30), never two draws of one order
SAME_SAMPLE = timedelta(seconds=60)
CHECKED_CHANNELS = frozenset({Channel.FHIR, Channel.MLLP, Channel.HL7_HTTP})
_NAMED = 3  # other senders named in a reason at most
_FINAL = ResultStatusCode.FINAL.value


@dataclass(frozen=True)
class StoredElsewhere:
    """What the careful path read for the batch's checked results (none on the fast path,
    whose write checks its final results: ``BatchAssumptions.unheld_samples``): each
    patient's standing results of their analytes, by subject id, and each checked result's
    keys and their parts as stored (keyed hashes), by its sender and key."""

    standing: Mapping[str, Sequence[StandingResult]] = field(default_factory=dict)
    keys: Mapping[SourceKey, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)


NOTHING_ELSEWHERE = StoredElsewhere()


def checked_elsewhere(observation: ObservationInput, channel: Channel) -> bool:
    """Whether a result is checked against other senders' results (module docstring); not
    one read as not obtained beside others (``unobtained``: nothing can be lost by it)."""
    return (
        channel in CHECKED_CHANNELS
        and not observation.read_as_not_obtained
        and status_of(observation) in EMITTED | CANCELLING
        and identify_analyte(observation.codes) is not None
    )


def same_sample(first: datetime | None, second: datetime | None) -> bool:
    """Whether two collection times can be one sample's (``SAME_SAMPLE``); True where either
    is not known, or not placed in time (no zone)."""
    if first is None or second is None or first.tzinfo is None or second.tzinfo is None:
        return True
    return abs(first - second) < SAME_SAMPLE


def holding_senders(
    source: str,
    channel: Channel,
    observation: ObservationInput,
    standing: Iterable[StandingResult],
    stored: tuple[frozenset[str], frozenset[str]],
) -> frozenset[str]:
    """The senders holding a standing result ``observation`` (from ``source``) is another
    copy of, or may be meant for (module docstring); ``stored``: its keys and their parts
    as stored."""
    identified = identify_analyte(observation.codes)
    keys, parts = stored
    if identified is None or not parts:
        return frozenset()
    if status_of(observation) == _FINAL:
        standing = [
            r for r in standing
            if r.source != source and r.status in EMITTED
            and same_sample(r.collected_at, observation.collected_at)
        ]  # fmt: skip
    elif channel is not Channel.FHIR:  # an HL7 sender's other keys are its own results
        standing = [r for r in standing if r.source != source]
    return sharing_senders(source, identified[0].value, keys, parts, standing)


def planned_elsewhere(
    source: str,
    subject_id: str,
    observation: ObservationInput,
    parts: frozenset[str],
    planned: Iterable[ResultRecord],
) -> frozenset[str]:
    """The other senders whose final or corrected result of the batch, planned before this
    one, is of the same patient, analyte and sample and shares an identifier (``parts`` as
    written): the batch's own results count as stored ones do."""
    identified = identify_analyte(observation.codes)
    if identified is None or not parts:
        return frozenset()
    final = status_of(observation) == _FINAL
    return frozenset(
        r.source
        for r in planned
        if r.source != source and r.subject_id == subject_id and r.status in EMITTED
        and r.result.analyte.value == identified[0].value
        and (not final or same_sample(r.collected_at, observation.collected_at))
        and not r.identifier_parts.isdisjoint(parts)
    )  # fmt: skip


def held_elsewhere(
    message: LabMessage,
    subject_id: str,
    stored: StoredElsewhere,
    never_held: Callable[[SourceKey], bool],
    *,
    planned: Sequence[ResultRecord],
    parts_of: Callable[[ObservationInput], frozenset[str]],
) -> Rejected | None:
    """Why one of the message's results, finding nothing under its own key
    (``never_held``), is refused: the patient holds a result under another sender's name
    it is a copy of, or may be meant for (``holding_senders``, ``planned_elsewhere``). None:
    there is none. ``parts_of``: a result's identifier parts as written."""
    for index, observation in enumerate(message.observations):
        if not checked_elsewhere(observation, message.channel):
            continue
        key = (message.source, observation.result_key)
        if not never_held(key):
            continue
        others = holding_senders(
            message.source,
            message.channel,
            observation,
            stored.standing.get(subject_id, ()),
            stored.keys.get(key, (frozenset(), frozenset())),
        ) | planned_elsewhere(
            message.source, subject_id, observation, parts_of(observation), planned
        )
        if others:
            return _refusal(status_of(observation), others, message.channel).at(index)
    return None


def _refusal(status: str, others: frozenset[str], channel: Channel) -> Rejected:
    """The instruction first (an OperationOutcome's diagnostics, as MSA-3, are read from
    the start); sender names are the operator's (allow-list entries, token names)."""
    if status == ResultStatusCode.CANNOT_OBTAIN.value and channel is Channel.FHIR:
        return held_elsewhere_reason(others)  # review 165's words
    if status in CANCELLING:
        return Rejected(RejectionCode.UNKNOWN_CORRECTED_RESULT, _changed(others, "withdraw"))
    if status == ResultStatusCode.CORRECTED.value:
        return Rejected(RejectionCode.UNKNOWN_CORRECTED_RESULT, _changed(others, "correct"))
    names, more = _names(others)
    return Rejected(
        RejectionCode.AMBIGUOUS_VERSION,
        f"a copy of the result sender {names}{more} holds: correct or withdraw it through "
        "that sender (over HL7 or the lab's FHIR feed); a second copy of it is not stored "
        "(the patient's standing result of this test, collected at the same time, shares an "
        "identifier with this one: the number of its order)",
    )


def _changed(others: frozenset[str], verb: str) -> str:
    names, more = _names(others)
    return (
        f"{verb} it through sender {names}{more}, which holds it (over HL7 or the lab's "
        "FHIR feed), or ask the trial's operator: nothing is stored under this sender and "
        "identifier, but the patient's result of this test sharing an identifier with this "
        "one (the number of its order) stands there; a final result sent here first would be "
        "a second copy of it, and is refused"
    )


def _names(others: frozenset[str]) -> tuple[str, str]:
    names = ", ".join(repr(name) for name in sorted(others)[:_NAMED])
    more = f" and {len(others) - _NAMED} more" if len(others) > _NAMED else ""
    return names, more
