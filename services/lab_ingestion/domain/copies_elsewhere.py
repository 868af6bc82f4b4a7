"""One sample's result reported by two feeds of a laboratory (pure: no I/O).

A laboratory may send its results over HL7 and over its FHIR feed. Each sender keeps its
results under its own keys (HL7: ``ORD7|1988-5|``, order, test and sub-id; FHIR:
``ORD7|1988-5``, the identifier typed FILL and the test), so one sample sent both ways was two
results, and a correction or withdrawal sent one way left the other standing (review 181:
crp-monitor served the stale value beside the corrected one).

So a trial result over HL7 or FHIR finding nothing under its own key (a final result: no
final or corrected result there, only preliminaries at most), while the patient holds a
standing result of the same analyte, of the same sample (collected within ``SAME_SAMPLE``
of it: both times as stored; an order number may hold several samples, as OBX-4 sub-ids,
and each is a result of its own), under another sender (or, for a change, under another of
its own keys), whose key shares an identifier with its keys
(``fhir_cancellations.identifier_parts``: the order number, a FHIR identifier without its
system), is never stored beside it (review 188 for the limits):

- a final result (``F``) is a copy of that result only when the standing one is final or
  corrected. Saying what it says (``said_by``: value, unit, limit) it is a duplicate, left
  out while the message's other results are stored; saying anything else it is refused
  with its message, naming the senders. The lab corrects or withdraws the result through
  the feed that holds it. A preliminary result (stored, never published) is no copy, and
  a final under a key holding only preliminaries is checked as one under an empty key: no
  two published finals of one sample from two senders (review 188).
- a correction or a withdrawal (``C``, ``X``, ``D``, ``W``) finding nothing under its key is
  refused naming those senders, never told "send the final result first", which would make
  the second copy (review 181). A FHIR ``cancelled`` without a value is review 165's case
  (``fhir_cancellations``): refused while a result it may be meant for stands, whatever its
  time, or stored before its parts were kept; else left out, as an HL7 ``X`` is. A FHIR
  token's own results under other keys count too (review 165: a token's keys changed with
  its identifiers); an HL7 sender's do not (its keys tell its own results apart: another
  test code or OBX-4 sub-id of the order).

Never counted (review 188): a result stored before migration 0031 (its parts not known:
they share nothing here), a key made of the collection time (no identifier), and between
two FHIR senders (each identifier system is its sender's namespace, and the systems are not
kept: ``urn:a|1001`` and ``urn:b|1001`` would share ``1001``); the rule is for a lab's HL7
feed and its FHIR feed, and for two HL7 senders of one order number.
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
    cancelled_before_resulting,
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
Said = tuple[object, ...]
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


def said_by(value: float | None, unit: str | None, comparator: object | None) -> Said:
    """What a copy must say again to be a duplicate of a result of the same sample: its
    canonical value and unit, and whether the value is a limit."""
    return (value, unit, None if comparator is None else str(comparator))


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


def copies_of(
    source: str,
    channel: Channel,
    observation: ObservationInput,
    standing: Iterable[StandingResult],
    stored: tuple[frozenset[str], frozenset[str]],
) -> list[StandingResult]:
    """The standing results ``observation`` (from ``source``) is another copy of, or may be
    meant for (module docstring): of its analyte and sample, never stored before their parts
    were kept nor another FHIR sender's, whose key is one of its keys or shares a part with
    them; ``stored``: its keys and their parts as stored."""
    identified = identify_analyte(observation.codes)
    keys, parts = stored
    if identified is None or not parts:
        return []
    final = status_of(observation) == _FINAL
    fhir = channel is Channel.FHIR
    return [
        r for r in standing
        if r.analyte == identified[0].value and r.parts is not None
        and same_sample(r.collected_at, observation.collected_at)
        and not (fhir and r.fhir and r.source != source)
        and not (final and (r.source == source or r.status not in EMITTED))
        and not (not fhir and r.source == source)  # an HL7 sender's other keys: its own
        and not (r.source == source and r.stored_key in keys)
        and (r.stored_key in keys or not r.parts.isdisjoint(parts))
    ]  # fmt: skip


def holding_senders(
    source: str,
    channel: Channel,
    observation: ObservationInput,
    standing: Iterable[StandingResult],
    stored: tuple[frozenset[str], frozenset[str]],
) -> frozenset[str]:
    """The senders holding a standing result ``observation`` is another copy of, or may be
    meant for (``copies_of``); a FHIR ``cancelled`` without a value: review 165's
    (``fhir_cancellations.sharing_senders``: whatever its time, or its parts not known)."""
    identified = identify_analyte(observation.codes)
    if cancelled_before_resulting(observation, channel) and identified is not None:
        if not stored[1]:
            return frozenset()
        return sharing_senders(source, identified[0].value, *stored, standing)
    return frozenset(r.source for r in copies_of(source, channel, observation, standing, stored))


def planned_elsewhere(
    source: str,
    subject_id: str,
    observation: ObservationInput,
    parts: frozenset[str],
    planned: Iterable[tuple[ResultRecord, bool]],
    *,
    fhir: bool,
) -> list[ResultRecord]:
    """The other senders' final or corrected results of the batch (each with whether a
    FHIR token sent it), planned before this one, of the same patient, analyte and sample,
    sharing an identifier (``parts`` as written), never another FHIR sender's: the batch's
    own results count as stored ones do."""
    identified = identify_analyte(observation.codes)
    if identified is None or not parts:
        return []
    return [
        r for r, by_fhir in planned
        if r.source != source and r.subject_id == subject_id and r.status in EMITTED
        and not (fhir and by_fhir)
        and r.result.analyte.value == identified[0].value
        and same_sample(r.collected_at, observation.collected_at)
        and not r.identifier_parts.isdisjoint(parts)
    ]  # fmt: skip


def held_elsewhere(
    message: LabMessage,
    subject_id: str,
    stored: StoredElsewhere,
    checked: Callable[[SourceKey, str], bool],
    *,
    planned: Sequence[tuple[ResultRecord, bool]],
    parts_of: Callable[[ObservationInput], frozenset[str]],
    said_of: Callable[[ObservationInput], Said | None],
) -> Rejected | frozenset[int]:
    """Why one of the message's results, finding nothing under its own key (``checked``:
    whether its key, for its status, holds nothing), is refused: the patient holds a result
    under another sender's name it is a copy of, or may be meant for (``holding_senders``,
    ``planned_elsewhere``); else the positions of its final results that are duplicates of
    such a result (``said_of``: what each says), to leave out."""
    duplicates: set[int] = set()
    fhir = message.channel is Channel.FHIR
    for index, observation in enumerate(message.observations):
        status = status_of(observation)
        key = (message.source, observation.result_key)
        if not checked_elsewhere(observation, message.channel) or not checked(key, status):
            continue
        in_batch = planned_elsewhere(
            message.source, subject_id, observation, parts_of(observation), planned, fhir=fhir
        )
        mine = stored.keys.get(key, (frozenset(), frozenset()))
        mine_standing = stored.standing.get(subject_id, ())
        if status == _FINAL:
            copies = copies_of(message.source, message.channel, observation, mine_standing, mine)
            said = said_of(observation)
            if said is not None and (
                any(c.said == said for c in copies)
                or any(said_by(r.result.value, r.result.unit, r.result.comparator) == said
                       for r in in_batch)
            ):  # fmt: skip
                duplicates.add(index)
                continue
            others = frozenset(c.source for c in copies)
        else:
            others = holding_senders(
                message.source, message.channel, observation, mine_standing, mine
            )
        others |= {r.source for r in in_batch}
        if others:
            return _refusal(status, others, message.channel).at(index)
    return frozenset(duplicates)


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
