"""Log and count what became of cancellations, once their unit of work committed (a batch
rolled back and run again must not count twice). Logged by ids only."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from services.crp_monitor.domain.model import CancellationNoted, CancellationOutcome

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
