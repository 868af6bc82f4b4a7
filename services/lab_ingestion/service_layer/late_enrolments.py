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
and its time (``DiscardedNumbers``: bounded, a week at most, never stored or logged), and an
enrolment read, however soon, after its own number was discarded since the enrolment was
recorded (less a margin for the clocks of two hosts) is logged with the subject, its site and
since when, and counted (``lab_late_enrolments_total``, alert ``LabLateEnrolment``): the
site's laboratories are asked to resend that subject's results sent since then, whatever
their collection time (a screening or day-1 sample taken before the enrolment is often the
one). A digest shared by two numbers only reports once too often. A restart forgets the
discards before it, and with several instances each knows only its own (the instance reading
the enrolment reports only what it discarded).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope, utc_now
from shared.contracts.events.trial import SubjectEnrolled
from shared.messaging.handling import EventHandler
from shared.subject_handlers import register_subject

log = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 24 * 3600  # a discard is remembered a week at most
MAX_NUMBERS = 100_000  # numbers remembered, the least recently discarded forgotten first
TIMES_PER_NUMBER = 16  # discard times remembered of one number, its latest
DIGEST_CHARS = 16  # of the keyed hash (hex): 64 bits, enough to tell numbers apart
# discards this long before the enrolment was recorded count too: the enrolling service's
# clock is another host's (reported once too often rather than never)
CLOCK_MARGIN_SECONDS = 60.0
REMEMBERED_REPORTS = 1000  # enrolments reported, by event id: retries report nothing again


class DiscardedNumbers:
    """When messages about numbers not enrolled were discarded, by number (a digest of its
    keyed hash), in memory only and bounded."""

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
        self._times: OrderedDict[str, deque[float]] = OrderedDict()  # oldest discard first

    def __len__(self) -> int:
        return len(self._times)

    def note(self, hmacs: Iterable[str]) -> None:
        now = self._clock()
        for hmac in hmacs:
            digest = hmac[:DIGEST_CHARS]
            times = self._times.pop(digest, None) or deque(maxlen=TIMES_PER_NUMBER)
            times.append(now)
            self._times[digest] = times  # the most recently discarded last
        while self._times:
            oldest, times = next(iter(self._times.items()))
            if len(self._times) <= self._max and times[-1] >= now - self._keep:
                break
            del self._times[oldest]

    def since(self, hmac: str, start: datetime) -> int:
        """Discards of ``hmac``'s number from ``start`` on (less the clock margin), as far
        as this process and the week kept know."""
        times = self._times.get(hmac[:DIGEST_CHARS], ())
        after = start.timestamp() - CLOCK_MARGIN_SECONDS
        return sum(1 for at in times if at >= after and at >= self._clock() - self._keep)


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

    async def read_enrolment(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        await register_subject(uow, envelope, payload)
        assert isinstance(payload, SubjectEnrolled)
        if envelope.event_id in reported:
            return
        discarded = discards.since(payload.hospital_id_hmac, envelope.recorded_at)
        if not discarded:  # none this process knows of: nothing to ask the laboratories for
            return
        reported[envelope.event_id] = None
        while len(reported) > REMEMBERED_REPORTS:
            reported.popitem(last=False)
        on_late()
        late = (now() - envelope.recorded_at).total_seconds()
        log.warning(
            "an enrolment was read late, after results for its patient were discarded as not "
            "enrolled: ask the site's laboratories to resend this subject's results sent "
            "since it was recorded, whatever their collection time",
            extra={
                "subject_id": envelope.subject_id, "site_id": payload.site_id,
                "recorded_at": envelope.recorded_at.isoformat(),
                "late_seconds": round(late, 1), "discarded_meanwhile": discarded,
            },
        )  # fmt: skip

    return read_enrolment
