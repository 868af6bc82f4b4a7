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
and each is a result of its own), over the other feed (``across_feeds``: HL7 for a FHIR
result, FHIR for an HL7 one; or, for a FHIR token's change, under another of its own
keys), whose key shares an identifier with its keys
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
  the second copy (review 181). One under a key holding only a preliminary result (which it
  would act on alone) is refused so while the other feed's final or corrected result of the
  sample stands (review 202: a withdrawal withdrew the preliminary and left that final
  standing), and acts on its preliminary otherwise. Unless it says what the holder's chain
  says already
  (review 192: both feeds sent the same correction): a correction saying what the head of
  each such chain says (``StandingResult.head``), and a withdrawal finding no such standing
  result but such a withdrawn one (``StoredElsewhere.withdrawn``), are duplicates, left
  out as a final copy is; never a withdrawal after its key's result in its own message,
  which acts on that result as with nothing over the other feed (task 220: HL7 F 13 then W
  in one message, the W left out, left F 13 standing beside the FHIR feed's withdrawn 12).
  A FHIR ``cancelled`` without a value is review 165's case
  (``fhir_cancellations``): refused while a result it may be meant for stands, whatever its
  time, or stored before its parts were kept; else left out, as an HL7 ``X`` is. A FHIR
  token's own results under other keys count too (review 165: a token's keys changed with
  its identifiers); an HL7 sender's do not (its keys tell its own results apart: another
  test code or OBX-4 sub-id of the order).
- a withdrawn result stays withdrawn across the feeds as over one (review 202): a final
  result saying what the other feed's withdrawn final or corrected result of the sample said
  (``StoredElsewhere.withdrawn``) is its late copy, refused ``ambiguous-version``; one
  saying anything else is a new result. A correction finding only such a withdrawn result
  is refused ``unknown-corrected-result``, told it was withdrawn, never to send the final
  result first (review 209: that advice led to the late copy).

Never counted (reviews 188, 192): a result stored before migration 0031 (its parts not
known: they share nothing here), a key made of the collection time (no identifier), and
results of two senders over the same kind of feed: two FHIR senders (each identifier system
is its sender's namespace, and the systems are not kept: ``urn:a|1001`` and ``urn:b|1001``
would share ``1001``) as two HL7 senders (two laboratories' order numbers coincide: each
sender's numbers are its own). The rule is for a lab's HL7 feed and its FHIR feed only.
A FHIR result's laboratory is told by its token (fixer 212): one bound to one HL7 sender is
that laboratory's FHIR feed, compared only with that sender's HL7 results, and an HL7
sender's results only with FHIR results of tokens bound to it, or to none (an unbound token's
FHIR, and any stored before migration 0039, is compared with every HL7 sender's: which HL7
laboratory a FHIR identifier belongs to cannot be told); the binding is the one the token
had when the result was stored (``feed_of``, ``of_one_laboratory``).
JSON results are keyed by the lab's own ``result_id``, never an order number: not checked,
never a copy. Results planned earlier in the same batch (preliminary ones too, for a
change: review 237) count as stored ones do, those it
withdrew as withdrawn ones (a correction or withdrawal finding a standing one is refused,
never taken for a duplicate), and a key whose head a withdrawal earlier in the batch took
away (another patient's result under a shared order: review 226) is checked as one found
holding none (``withdrawn_chains.freed_in_batch``). What each result then becomes:
``copy_outcomes``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.fhir_cancellations import (
    StandingResult,
    cancelled_before_resulting,
    observation_parts,
    sharing_senders,
)
from services.lab_ingestion.domain.model import LabMessage, ObservationInput, ResultStatusCode
from services.lab_ingestion.domain.result_status import CANCELLING, EMITTED, status_of
from shared.contracts.events.lab import Channel

SourceKey = tuple[str, str]
Said = tuple[object, ...]
# two collection times of one sample: as written to the minute by one feed, to the second by
# the other (08:15 and 08:15:30), never two draws of one order
SAME_SAMPLE = timedelta(seconds=60)
HL7_CHANNELS = frozenset({Channel.MLLP, Channel.HL7_HTTP})  # MLLP and POST /v1/hl7
CHECKED_CHANNELS = HL7_CHANNELS | {Channel.FHIR}
_FINAL = ResultStatusCode.FINAL.value
_NO_KEYS: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


@dataclass(frozen=True)
class StoredElsewhere:
    """What the careful path read for the batch's checked results (none on the fast path,
    whose write checks its final results: ``BatchAssumptions.unheld_samples``): each
    patient's standing results of their analytes, and withdrawn ones, by subject id, and
    how a result's keys and their parts are stored (``stored_form``: the keyed hash; or, as
    hand-written tests give them, ``keys``: by sender and key): ``keys_of``."""

    standing: Mapping[str, Sequence[StandingResult]] = field(default_factory=dict)
    keys: Mapping[SourceKey, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)
    withdrawn: Mapping[str, Sequence[StandingResult]] = field(default_factory=dict)
    stored_form: Callable[[str], str] | None = None

    def keys_of(
        self, source: str, observation: ObservationInput, channel: Channel
    ) -> tuple[frozenset[str], frozenset[str]]:
        """A result's keys and their identifier parts as stored: of all its identifiers as
        sent, whatever key planning moved it to (review 237: a FHIR final moved onto the key
        of a result planned earlier in its batch, ``result_keys.keyed_as_planned``, was
        looked up under that key, found none of its parts, and was stored beside the HL7
        final of its sample)."""
        if self.stored_form is None:
            return self.keys.get((source, observation.result_key), _NO_KEYS)
        stored = self.stored_form
        keys = (observation.result_key, *observation.other_keys, *observation.keys_before)
        parts = observation_parts(observation, channel)
        return frozenset(map(stored, keys)), frozenset(map(stored, parts))


NOTHING_ELSEWHERE = StoredElsewhere()


def said_by(value: float | None, unit: str | None, comparator: object | None) -> Said:
    """What a copy must say again to be a duplicate of a result of the same sample: its
    canonical value and unit, and whether the value is a limit."""
    return (value, unit, None if comparator is None else str(comparator))


def across_feeds(channel: str | None, other: str | None) -> bool:
    """Whether results that came over ``channel`` and ``other`` are a laboratory's two
    feeds, one over HL7 (MLLP, ``POST /v1/hl7``) and one over FHIR: never two HL7 senders,
    nor two FHIR senders, nor a JSON result (review 192)."""
    return (channel in HL7_CHANNELS and other == Channel.FHIR) or (
        channel == Channel.FHIR and other in HL7_CHANNELS
    )


def feed_of(message: LabMessage) -> str | None:
    """The HL7 sender (``APPLICATION^FACILITY``) whose laboratory a FHIR message is from: the
    one sender its token is bound to (``LabMessage.configured_as``); None for a token bound
    to none (or to ``<token name>^FHIR``) and for any other channel's message."""
    if message.channel is not Channel.FHIR or message.configured_as is None:
        return None
    return "^".join(message.configured_as)


def of_one_laboratory(source: str, feed: str | None, other: str, other_feed: str | None) -> bool:
    """Whether results of ``source`` and ``other`` over a laboratory's two feeds
    (``across_feeds``) can be one laboratory's, by each one's ``feed_of`` (an HL7 result's
    is None): a FHIR result bound to an HL7 sender is that sender's only; one bound to none
    (or stored before migration 0039) may be any HL7 sender's (fixer 212)."""
    return (feed is None or feed == other) and (other_feed is None or other_feed == source)


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
    *,
    feed: str | None = None,
) -> list[StandingResult]:
    """The standing results ``observation`` (from ``source``) is another copy of, or may be
    meant for (module docstring): of its analyte and sample, never stored before their parts
    were kept, over the other feed of its laboratory (``across_feeds``,
    ``of_one_laboratory``; ``feed``: its message's ``feed_of``) or, for a FHIR token's
    change, its own under another key, whose key is one of its keys or shares a part with
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
        and (
            across_feeds(channel, r.channel)
            and of_one_laboratory(source, feed, r.source, r.feed_of)
            if r.source != source else fhir and not final
        )
        and not (final and r.status not in EMITTED)
        and not (r.source == source and r.stored_key in keys)
        and (r.stored_key in keys or not r.parts.isdisjoint(parts))
    ]  # fmt: skip


def holding_senders(
    source: str,
    channel: Channel,
    observation: ObservationInput,
    standing: Iterable[StandingResult],
    stored: tuple[frozenset[str], frozenset[str]],
    *,
    feed: str | None = None,
) -> frozenset[str]:
    """The senders holding a standing result ``observation`` is another copy of, or may be
    meant for (``copies_of``); a FHIR ``cancelled`` without a value: review 165's
    (``fhir_cancellations.sharing_senders``: whatever its time, or its parts not known),
    never another laboratory's HL7 result than its token's (``of_one_laboratory``)."""
    identified = identify_analyte(observation.codes)
    if cancelled_before_resulting(observation, channel) and identified is not None:
        if not stored[1]:
            return frozenset()
        ours = [
            r for r in standing
            if r.channel not in HL7_CHANNELS or of_one_laboratory(source, feed, r.source, None)
        ]  # fmt: skip
        return sharing_senders(source, identified[0].value, *stored, ours)
    copies = copies_of(source, channel, observation, standing, stored, feed=feed)
    return frozenset(r.source for r in copies)
