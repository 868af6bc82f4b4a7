"""Enrolments read late, while results were discarded as not enrolled.

A result is matched against lab-ingestion's copy of the subject directory, fed from
`trial.subjects.v1`. That copy trails the enrolling service: by a quarter of a second
normally, by as long as a broker outage, a relay backlog or a rebalance lasts. A result for
a subject enrolled in that window is answered as about a patient not enrolled and discarded,
and a laboratory does not resend what it was answered `AA` for. Nothing of a patient who is
not enrolled may be kept (issue 3, PROTOCOL section 6), so such a result cannot be held back
until the enrolment arrives. Instead the discards are counted by minute (a count, no
identifier: ``DiscardClock``), and an enrolment read more than ``LATE_AFTER_SECONDS`` after
it was recorded, with discards in between, is logged with the subject, its site and since
when, and counted (``lab_late_enrolments_total``, alert ``LabLateEnrolment``): the site's
laboratories are asked to resend that subject's results sent since then, whatever their
collection time (a screening or day-1 sample taken before the enrolment is often the one).
Discards are kept in memory only: a restart in between forgets those before it, and with
several instances each knows only its own (the instance reading the enrolment reports only
what it discarded).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope, utc_now
from shared.contracts.events.trial import SubjectEnrolled
from shared.messaging.handling import EventHandler
from shared.subject_handlers import register_subject

log = logging.getLogger(__name__)

# normally the directory trails by a batch window (0.25 s) and a relay cycle
LATE_AFTER_SECONDS = 30.0
KEEP_SECONDS = 7 * 24 * 3600  # a week of minutes: 10,080 counts at most
REMEMBERED_REPORTS = 1000  # enrolments reported, by event id: retries report nothing again


class DiscardClock:
    """How many messages about patients not enrolled were discarded, by minute."""

    def __init__(
        self, clock: Callable[[], float] = time.time, keep_seconds: float = KEEP_SECONDS
    ) -> None:
        self._clock = clock
        self._keep_minutes = int(keep_seconds // 60)
        self._minutes: deque[list[int]] = deque()  # [minute, count], oldest first

    def note(self, count: int = 1) -> None:
        if count <= 0:
            return
        minute = int(self._clock() // 60)
        if self._minutes and self._minutes[-1][0] == minute:
            self._minutes[-1][1] += count
        else:
            self._minutes.append([minute, count])
        while self._minutes and self._minutes[0][0] < minute - self._keep_minutes:
            self._minutes.popleft()

    def since(self, start: datetime) -> int:
        """Discards from ``start``'s minute on (a few before it in that minute too: a
        warning is better given once too often), as far as this process and the week kept
        know (a restart forgets those before it)."""
        minute = int(start.timestamp() // 60)
        return sum(count for at, count in self._minutes if at >= minute)


def enrolment_reader(
    discards: DiscardClock,
    on_late: Callable[[], None],
    *,
    late_after_seconds: float = LATE_AFTER_SECONDS,
    now: Callable[[], datetime] = utc_now,
) -> EventHandler:
    """The `SubjectEnrolled` handler of lab-ingestion's subject directory: the enrolment is
    kept as every service keeps it (``register_subject``); one read late, with results
    discarded meanwhile, is reported, once per event however often its batch is applied
    (a batch is applied again after a failed commit, or event by event)."""
    reported: OrderedDict[uuid.UUID, None] = OrderedDict()

    async def read_enrolment(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        await register_subject(uow, envelope, payload)
        assert isinstance(payload, SubjectEnrolled)
        late = (now() - envelope.recorded_at).total_seconds()
        if late <= late_after_seconds or envelope.event_id in reported:
            return
        discarded = discards.since(envelope.recorded_at)
        if not discarded:  # none this process knows of: nothing to ask the laboratories for
            return
        reported[envelope.event_id] = None
        while len(reported) > REMEMBERED_REPORTS:
            reported.popitem(last=False)
        on_late()
        log.warning(
            "an enrolment was read late, while results were discarded as not enrolled: ask "
            "the site's laboratories to resend this subject's results sent since it was "
            "recorded, whatever their collection time",
            extra={
                "subject_id": envelope.subject_id, "site_id": payload.site_id,
                "recorded_at": envelope.recorded_at.isoformat(),
                "late_seconds": round(late, 1), "discarded_meanwhile": discarded,
            },
        )  # fmt: skip

    return read_enrolment
