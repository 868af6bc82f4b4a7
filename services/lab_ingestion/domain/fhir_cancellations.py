"""A FHIR Observation ``cancelled`` without a value (pure: no I/O): a test cancelled before
it was resulted (FHIR R4: "the measurement was not started or not completed"; a cancelled
order's tests are reported so). Under a result key that never held anything, for anyone, it
is left out as HL7's X there is (``message_chains.obtains_nothing``): nothing to withdraw,
nothing to record (review 157: beside a grade-4 ANC a transaction was refused whole, told
"send the final result first", which no laboratory can follow for a test never resulted).

A FHIR result is kept under its token's name, so a cancellation finding nothing under it may
be meant for a result kept under another key: a token replaced under a new name (reviews
67, 72, 73), or a result the lab sent over HL7 (review 165: a CRP of order ORD7 stored as
``ORD7|1988-5|``, cancelled over FHIR as ``ORD7|1988-5``). Where the patient holds a
standing result of the same analyte, under any sender (its own token's under another key),
whose key shares an identifier with the cancellation's keys (``identifier_parts``: the
parts of a key other than the test's code), or one stored before its parts were kept, it is
refused naming those senders (``copies_elsewhere``, which checks the other statuses too:
review 181), never left out while that result stands. A ``cancelled`` carrying a value, and
an ``entered-in-error`` (FHIR's withdrawal of a released result), finding nothing are
refused: naming the senders that hold a result it may be meant for (``copies_elsewhere``),
else as before (``withdrawn_chains``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import (
    ObservationInput,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.result_status import status_of
from shared.contracts.events.lab import Channel

SourceKey = tuple[str, str]
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # a FHIR identifier's system (a URI)
_NAMED = 3  # other senders named in a reason at most
_KEYED_BY_TIME = frozenset({Channel.MLLP, Channel.HL7_HTTP, Channel.FHIR})  # ``@...`` keys


def cancelled_before_resulting(observation: ObservationInput, channel: Channel) -> bool:
    """A FHIR ``cancelled`` (read as X) trial result without a value: no value[x], or a
    dataAbsentReason."""
    return (
        channel is Channel.FHIR
        and status_of(observation) == ResultStatusCode.CANNOT_OBTAIN.value
        and not observation.value.strip()
        and identify_analyte(observation.codes) is not None
    )


def identifier_parts(keys: Iterable[str], codes: Iterable[str], channel: Channel) -> frozenset[str]:
    """The identifiers result keys are made of: their ``|``-separated parts without the
    test's ``codes`` and empty ones; of an HL7 key (order number, code, OBX-4 sub-id) its
    sub-id; of a FHIR key its identifier's system (``urn:sys|ORD7|1988-5``: ``ORD7``); none
    of a key made of the collection time (``@...``, over HL7 and FHIR alike: no identifier,
    only the time and the patient, review 188)."""
    tests = {code for code in codes if code}
    parts: set[str] = set()
    for key in keys:
        split = key.split("|")
        if channel in _KEYED_BY_TIME and split[0].startswith("@"):
            continue
        if channel in (Channel.MLLP, Channel.HL7_HTTP):
            split = split[:2] if len(split) >= 3 else split
        elif channel is Channel.FHIR and len(split) > 1 and _URI.match(split[0]):
            split = split[1:]
        parts.update(p for p in split if p and p not in tests)
    return frozenset(parts)


def observation_parts(observation: ObservationInput, channel: Channel) -> frozenset[str]:
    """The identifiers of every key a result is stored or named under (``identifier_parts``)."""
    keys = (observation.result_key, *observation.other_keys, *observation.keys_before)
    return identifier_parts(keys, (c.code for c in observation.codes), channel)


@dataclass(frozen=True)
class StandingResult:
    """A patient's standing (not withdrawn) result as stored (or, in
    ``copies_elsewhere.StoredElsewhere.withdrawn``, a withdrawn one): its sender, key, analyte
    and the parts of its key (``identifier_parts``; None: stored before they were kept); key
    and parts as stored (keyed hashes); its status and collection time (a final result is
    another copy of one of the same sample only: ``copies_elsewhere``); the channel its
    message came over (a copy is another feed's: HL7 or FHIR), what it says
    (``copies_elsewhere.said_by``: a copy saying the same is a duplicate of it), and whether
    it is its chain's head (a final or corrected result no standing one supersedes: what
    the chain says now); its id (None: not read), by which a batch withdrawing its chain
    knows it withdrawn (``copy_outcomes.as_batch_left``); for a FHIR result, the HL7 sender
    its token was bound to when it was stored (``copies_elsewhere.feed_of``; None: bound to
    none, not FHIR, or stored before migration 0039)."""

    source: str
    stored_key: str
    analyte: str
    parts: frozenset[str] | None
    status: str = ResultStatusCode.FINAL.value
    collected_at: datetime | None = None
    channel: str = Channel.MLLP.value
    said: tuple[object, ...] | None = None
    head: bool = True
    result_id: uuid.UUID | None = None
    feed_of: str | None = None


def sharing_senders(
    source: str,
    analyte: str,
    stored_keys: frozenset[str],
    stored_parts: frozenset[str],
    standing: Iterable[StandingResult],
) -> frozenset[str]:
    """The senders holding a standing result of ``analyte`` that a FHIR ``cancelled`` from
    ``source`` (its keys and their parts as stored) may be meant for: under another sender's
    name, or its own under another key, whose key is one of its keys or shares a part with
    them, or whose parts are not known."""
    return frozenset(
        r.source
        for r in standing
        if r.analyte == analyte
        and not (r.source == source and r.stored_key in stored_keys)
        and (r.stored_key in stored_keys or r.parts is None or not r.parts.isdisjoint(stored_parts))
    )


def held_elsewhere_reason(others: frozenset[str]) -> Rejected:
    """The instruction first (an OperationOutcome's diagnostics, as MSA-3, are read from
    the start); sender names are the operator's (allow-list entries, token names)."""
    names = ", ".join(repr(name) for name in sorted(others)[:_NAMED])
    more = f" and {len(others) - _NAMED} more" if len(others) > _NAMED else ""
    return Rejected(
        RejectionCode.UNKNOWN_CORRECTED_RESULT,
        f"send the cancellation the way the result was sent (sender {names}{more}: over "
        "HL7 as that result's cancellation, or with the token it is stored "
        "under), or ask the trial's "
        "operator: the patient's result of this test sharing an identifier with this one "
        "(Observation.identifier) stands under another sender's name or key, none under "
        "this token's and key; it is not left out as a test never resulted while that "
        "result stands",
    )
