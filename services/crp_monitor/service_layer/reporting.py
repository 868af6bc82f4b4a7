"""Log and count what became of cancellations, and the corrections found naming another
subject's result, once their unit of work committed (a batch rolled back and run again must
not count twice). Logged by ids only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from services.crp_monitor.domain.model import (
    CancellationNoted,
    CancellationOutcome,
    CorrectionOfAnotherSubjectFound,
    PendingCancellations,
)
from shared.waiting import wait_event

log = logging.getLogger(__name__)

_LOGGED: dict[CancellationOutcome, tuple[int, str]] = {
    CancellationOutcome.APPLIED: (logging.INFO, "a CRP result was cancelled"),
    CancellationOutcome.REPEATED: (logging.INFO, "a CRP result was cancelled already"),
    CancellationOutcome.PENDING: (
        logging.WARNING,
        "a CRP cancellation arrived before its result; kept until the result comes",
    ),
    CancellationOutcome.APPLIED_ON_ARRIVAL: (
        logging.WARNING,
        "a CRP result arrived after its cancellation; stored cancelled",
    ),
    CancellationOutcome.OTHER_SUBJECT: (
        logging.ERROR,
        "a kept CRP cancellation named another subject's result; not applied",
    ),
    CancellationOutcome.REFUSED_RESULT: (
        logging.WARNING,
        "a CRP cancellation named a correction refused as another subject's; nothing to cancel",
    ),
}


def report_cancellations(
    count: Callable[[CancellationOutcome], None], noted: Sequence[CancellationNoted]
) -> None:
    for note in noted:
        count(note.outcome)
        level, message = _LOGGED[note.outcome]
        log.log(level, message, extra={
            "outcome": note.outcome.value, "result_id": str(note.result_id),
            "subject_id": note.subject_id, "event_id": str(note.event_id),
        })  # fmt: skip


def report_corrections_of_another_subject(
    count: Callable[[], None], noted: Sequence[CorrectionOfAnotherSubjectFound]
) -> None:
    for note in noted:
        count()
        log.error(
            "a stored CRP correction named a result that arrived under another subject; "
            "it stands in neither series",
            extra={
                "result_id": str(note.result_id), "subject_id": note.subject_id,
                "corrected_result_id": str(note.corrected_result_id),
                "corrected_subject_id": note.corrected_subject_id,
                "event_id": str(note.event_id),
            },
        )  # fmt: skip


async def watch_pending_cancellations(
    read: Callable[[], Awaitable[PendingCancellations]],
    show: Callable[[int, float], None],
    stopping: asyncio.Event,
    every_seconds: float,
) -> None:
    """Show how many cancellations wait for their result, and how long the oldest has: one
    whose result never comes is otherwise only counted once, when it was kept. A failed read
    (the database away) leaves the last figures and is tried again at the next turn."""
    while not stopping.is_set():
        try:
            pending = await read()
        except Exception as error:  # any failure: the figures wait for the next turn
            log.warning("could not read the pending cancellations",
                        extra={"error": type(error).__name__})  # fmt: skip
        else:
            show(pending.count, pending.oldest_age_seconds(datetime.now(UTC)))
        await wait_event(stopping, every_seconds)
