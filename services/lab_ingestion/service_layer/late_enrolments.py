"""Enrolments read after results for their hospital number were discarded as not enrolled.

A result is matched against lab-ingestion's copy of the subject directory, fed from
`trial.subjects.v1`. That copy trails the enrolling service: by a quarter of a second
normally, by as long as a broker outage, a relay backlog or a rebalance lasts. A result for
a subject enrolled in that window is answered as about a patient not enrolled and discarded,
and a laboratory does not resend what it was answered `AA` for. Nothing of a patient not
enrolled may be kept (issue 3, PROTOCOL section 6), so such a result cannot be held back
until the enrolment arrives. (At start-up, until the copy has caught up with what the topic
held, such a message is answered "resend" instead: ``directory_gate``.)

Instead each discard is noted in memory only, by a short digest of the number's keyed hash
and its time (``DiscardedNumbers``: bounded, a week at most, never stored or logged; per
number its first and last discard and how many, so a count is a range), and an enrolment
read, however soon, after its own number was discarded since the enrolment was
recorded (less how far the enrolling host's clock was seen to run ahead of this one,
``EnrollingClockLead``, and a margin) is logged with the subject, its site and since when, and
counted (``lab_late_enrolments_total``, alert ``LabLateEnrolment``): the
site's laboratories are asked to resend that subject's results sent since then, whatever
their collection time (a screening or day-1 sample taken before the enrolment is often the
one). A digest shared by two numbers only reports once too often. A restart forgets the
discards before it, and with several instances each knows only its own (the instance reading
the enrolment reports only what it discarded).
"""

from __future__ import annotations

import heapq
import logging
import math
import time
import uuid
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope, utc_now
from shared.contracts.events.trial import SubjectEnrolled
from shared.messaging.handling import EventHandler
from shared.subject_handlers import register_subject

log = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 24 * 3600  # a discard is remembered a week at most
MAX_NUMBERS = 100_000  # numbers remembered, the least recently discarded forgotten first
DIGEST_CHARS = 16  # of the keyed hash (hex): 64 bits, enough to tell numbers apart
# discards this long before the enrolment was recorded count too: the enrolling service's
# clock is another host's (reported once too often rather than never)
CLOCK_MARGIN_SECONDS = 60.0
REMEMBERED_REPORTS = 1000  # enrolments reported, by event id: retries report nothing again
PRUNE_SECONDS = 3600.0  # how often numbers last discarded over a week ago are dropped
LEAD_KEPT = timedelta(days=1)  # how long a lead of the enrolling host's clock seen is trusted
# a lead beyond this is a broken clock (or a forged time), not taken further: each enrolment
# would otherwise ask for every discard of a week
MAX_LEAD = timedelta(hours=1)
_EMPTY = 0  # no digest: a digest of 0 is taken as 1 (``_digest``)


@dataclass(frozen=True)
class Discarded:
    """How many discards of a number fell since a time: exactly ``at_least`` when both are
    equal, else between the two (``DiscardedNumbers`` keeps a number's first and last
    discard and their count, not each time). None at all when ``at_most`` is 0."""

    at_least: int
    at_most: int

    def __bool__(self) -> bool:
        return self.at_most > 0


NONE_DISCARDED = Discarded(0, 0)


class DiscardedNumbers:
    """When messages about numbers not enrolled were discarded, by number (a 64-bit digest
    of its keyed hash), in memory only and bounded. Per number its run of discards: the
    last, the first (a run starts again once its last is over a week old) and how many.
    Held in flat arrays (an open-addressing table, at most three quarters full), no object
    per number: 3.7 MB at 100,000 numbers (a deque of times per number in an OrderedDict
    took 100 MB, review 118). Over the bound, the least recently discarded sixteenth is
    forgotten at once (the table rebuilt), as are, hourly, numbers last discarded over a
    week ago."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        keep_seconds: float = KEEP_SECONDS,
        max_numbers: int = MAX_NUMBERS,
    ) -> None:
        self._clock = clock
        self._keep = keep_seconds
        self._max = max_numbers
        self._size = 1 << max(2, ((max_numbers + 1) * 4 // 3).bit_length())
        self._clear()
        self._pruned = clock()

    def _clear(self) -> None:
        size = self._size
        self._digests = array("Q", bytes(8 * size))
        self._lasts = array("d", [math.inf]) * size  # +inf where no number is
        self._firsts = array("d", bytes(8 * size))
        self._counts = array("I", bytes(4 * size))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _slot(self, digest: int) -> int:
        """The slot holding ``digest``, else the empty one it would go to."""
        mask = self._size - 1
        slot = digest & mask
        digests = self._digests
        while digests[slot] != digest and digests[slot] != _EMPTY:
            slot = (slot + 1) & mask
        return slot

    def note(self, hmacs: Iterable[str]) -> None:
        now = self._clock()
        for hmac in hmacs:
            digest = _digest(hmac)
            slot = self._slot(digest)
            if self._digests[slot] == _EMPTY:
                self._digests[slot] = digest
                self._count += 1
                self._firsts[slot], self._counts[slot] = now, 1
            elif self._lasts[slot] < now - self._keep:  # none within the week: a new run
                self._firsts[slot], self._counts[slot] = now, 1
            else:
                self._counts[slot] = min(self._counts[slot] + 1, _MAX_COUNT)
            self._lasts[slot] = max(self._lasts[slot], now) if self._counts[slot] > 1 else now
            if self._count > self._max:
                self._forget(self._count - self._max + self._max // 16, now)
        if now - self._pruned >= PRUNE_SECONDS:
            self._pruned = now
            if min(self._lasts) < now - self._keep:
                self._forget(0, now)

    def _forget(self, least_recent: int, now: float) -> None:
        """Rebuild the table without the ``least_recent`` numbers least recently discarded
        and those last discarded over a week ago."""
        cutoff, ties = now - self._keep, 0  # dropped: last < cutoff, and ``ties`` at it
        if least_recent:
            oldest = heapq.nsmallest(least_recent, self._lasts)
            if oldest[-1] >= cutoff:
                cutoff = oldest[-1]
                ties = least_recent - sum(1 for last in oldest if last < cutoff)
        digests, lasts, firsts, counts = self._digests, self._lasts, self._firsts, self._counts
        self._clear()  # the old arrays are read once more: no copy of the numbers kept
        for old, digest in enumerate(digests):
            last = lasts[old]
            if digest == _EMPTY or last < cutoff:
                continue
            if last == cutoff and ties:
                ties -= 1
                continue
            slot = self._slot(digest)
            self._digests[slot], self._lasts[slot] = digest, last
            self._firsts[slot], self._counts[slot] = firsts[old], counts[old]
            self._count += 1

    def since(self, hmac: str, start: datetime) -> Discarded:
        """Discards of ``hmac``'s number from ``start`` on (less the clock margin), as far
        as this process and the week kept know: exact when the number's run of discards
        began since, else at least its last and at most all but its first."""
        slot = self._slot(_digest(hmac))
        if self._digests[slot] == _EMPTY:
            return NONE_DISCARDED
        last, first, count = self._lasts[slot], self._firsts[slot], self._counts[slot]
        after = start.timestamp() - CLOCK_MARGIN_SECONDS
        if last < after or last < self._clock() - self._keep:
            return NONE_DISCARDED
        if first >= after:
            return Discarded(count, count)
        return Discarded(1, max(count - 1, 1))


_MAX_COUNT = 0xFFFF_FFFF  # a run's count stops there (at_least/at_most stay lower bounds)


def _digest(hmac: str) -> int:
    """The number's digest: the keyed hash's first 64 bits (hex), as an int, never 0."""
    return int(hmac[:DIGEST_CHARS], 16) or 1


class EnrollingClockLead:
    """How far the enrolling host's clock was seen to run ahead of this one. An enrolment
    cannot be read before it was recorded: one whose recording time is later than the time
    it is read shows that clock ahead by at least as much. The largest lead seen in the last
    day is taken off each enrolment's recording time before discards are counted from it
    (review 122: with the enrolling clock over the 60 s margin ahead, discards of a number
    after its real enrolment fell before its recording time, and the late enrolment went
    unreported). A lead shows only once an enrolment is read sooner than the lead after it
    was recorded (the first read after a restart, too): until then the margin alone covers
    it. A clock behind only widens the window: reported once too often rather than never.
    A lead is taken up to an hour (``MAX_LEAD``)."""

    def __init__(self, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now
        self._lead = timedelta(0)
        self._seen: datetime | None = None  # when the lead in use was last seen

    def recorded_here(self, recorded_at: datetime) -> datetime:
        """``recorded_at`` (the enrolling host's clock) as this host's clock tells it, as
        far as the leads seen show."""
        read_at = self._now()
        lead = min(max(recorded_at - read_at, timedelta(0)), MAX_LEAD)
        if self._seen is None or lead >= self._lead or read_at - self._seen > LEAD_KEPT:
            self._lead, self._seen = lead, read_at
        return recorded_at - self._lead


def enrolment_reader(
    discards: DiscardedNumbers,
    on_late: Callable[[], None],
    *,
    now: Callable[[], datetime] = utc_now,
) -> EventHandler:
    """The `SubjectEnrolled` handler of lab-ingestion's subject directory: the enrolment is
    kept as every service keeps it (``register_subject``); one read after its number was
    discarded since it was recorded is reported, once per event however often its batch is
    applied (a batch is applied again after a failed commit, or event by event)."""
    reported: OrderedDict[uuid.UUID, None] = OrderedDict()
    clock_lead = EnrollingClockLead(now)

    async def read_enrolment(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        await register_subject(uow, envelope, payload)
        assert isinstance(payload, SubjectEnrolled)
        if envelope.event_id in reported:
            return
        recorded_here = clock_lead.recorded_here(envelope.recorded_at)
        discarded = discards.since(payload.hospital_id_hmac, recorded_here)
        if not discarded:  # none this process knows of: nothing to ask the laboratories for
            return
        reported[envelope.event_id] = None
        while len(reported) > REMEMBERED_REPORTS:
            reported.popitem(last=False)
        on_late()
        late = (now() - recorded_here).total_seconds()
        log.warning(
            "an enrolment was read late, after results for its patient were discarded as not "
            "enrolled: ask the site's laboratories to resend this subject's results sent "
            "since resend_since, when it was recorded (by this host's clock, less a margin), "
            "whatever their collection time (discarded_meanwhile: "
            "at least that many of its messages were discarded since, at most "
            "discarded_at_most)",
            extra={
                "subject_id": envelope.subject_id, "site_id": payload.site_id,
                "recorded_at": envelope.recorded_at.isoformat(),
                "resend_since": (
                    recorded_here - timedelta(seconds=CLOCK_MARGIN_SECONDS)
                ).isoformat(),
                "late_seconds": round(late, 1), "discarded_meanwhile": discarded.at_least,
                "enrolling_clock_ahead_seconds": round(
                    (envelope.recorded_at - recorded_here).total_seconds(), 1
                ),
                "discarded_at_most": discarded.at_most,
            },
        )  # fmt: skip

    return read_enrolment
