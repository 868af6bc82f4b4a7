"""The handlers of `trial.subjects.v1` that keep a service's copy of the enrolled subjects.

No database or broker here: they call the unit of work's ``subjects`` (the
``SubjectDirectory`` of ``shared.subjects``, bound by ``SubjectsUnitOfWork``), so that a
service layer can take them into its own handler table without loading the driver.
"""

from __future__ import annotations

from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.events.trial import SubjectEnrolled, SubjectWithdrawn
from shared.messaging.handling import EventHandler, PoisonMessage

# a subject enrolled again after its withdrawal: not applied, dead-lettered
ENROLLED_AFTER_WITHDRAWAL = "enrolled-after-withdrawal"


async def register_subject(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    """Keep the enrolment. One of a subject withdrawn before it was enrolled (again) is
    a contract violation (a withdrawal is final; a re-screened patient gets a new subject
    id): it is not applied, the withdrawal stands, and it is dead-lettered, seen."""
    assert isinstance(payload, SubjectEnrolled)
    if envelope.subject_id is None:
        raise PoisonMessage("missing-subject", "an enrolment without subject_id")
    if not await uow.subjects.enrol(envelope.subject_id, payload):
        raise PoisonMessage(
            ENROLLED_AFTER_WITHDRAWAL,
            "an enrolment of a subject after its withdrawal: the withdrawal stands (a "
            "re-screened patient is enrolled under a new subject id)",
        )


async def withdraw_subject(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, SubjectWithdrawn)
    if envelope.subject_id is None:
        raise PoisonMessage("missing-subject", "a withdrawal without subject_id")
    await uow.subjects.withdraw(envelope.subject_id, payload.withdrawn_at)


SUBJECT_HANDLERS: dict[str, EventHandler] = {
    SubjectEnrolled.event_type: register_subject,
    SubjectWithdrawn.event_type: withdraw_subject,
}
