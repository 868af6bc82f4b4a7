"""Whether a patient not found in the subject directory may be taken as not enrolled.

lab-ingestion's copy of the subject directory is fed from `trial.subjects.v1` by its own
consumer, which at start-up (after a restart, a crash, a deployment) is seconds behind: it
joins its group, is assigned its partitions (after a kill, once the broker gave up on the old
member) and applies what was enrolled while the service was down. The listeners open at once,
and a laboratory flushing its queue sends at once: a result for a subject enrolled meanwhile
would be answered "patient not enrolled, discarded", and nothing of it kept (review 114).

So until the runtime reports that the directory's consumer has applied everything the topic
held at start (``caught_up``: ``shared.streaming.catch_up``, which waits with the broker out
of reach), a message whose patient is not found is not discarded: it is answered as a passing
failure, nothing stored (nothing of a patient who may not be enrolled may be kept), and the
laboratory resends it (MLLP AR, HTTP 503 with Retry-After, as when the database is out of
reach). Messages whose patients are found are stored as usual. Readiness says not ready
until then. Once caught up, the gate stays open: a later delay of the directory is reported
by ``late_enrolments``.
"""

from __future__ import annotations

from services.lab_ingestion.service_layer.commands import IngestOutcome, ResendReason

# MSA-3 holds 80 characters
CATCHING_UP_TEXT = (
    "patient not found while the subject directory catches up; nothing stored, resend"
)


class DirectoryGate:
    """Closed from the start of the service until the runtime says the directory caught up."""

    def __init__(self, *, caught_up: bool = False) -> None:
        self._open = caught_up

    def caught_up(self) -> None:
        """The runtime's port: the directory holds every enrolment recorded before start."""
        self._open = True

    def is_open(self) -> bool:
        return self._open


def not_found_while_catching_up() -> IngestOutcome:
    """The answer to a message whose patient is not found before the directory caught up."""
    return IngestOutcome(
        accepted=False, transient=True, reason=CATCHING_UP_TEXT,
        resend_reason=ResendReason.DIRECTORY_CATCHING_UP,
    )  # fmt: skip
