"""A subject's former hospital numbers, kept by lab-ingestion's subject directory.

A correction of a subject's enrolment is their ``SubjectEnrolled`` published again on
`trial.subjects.v1` with another hospital number's keyed hash; the event does not say the
old one, and the directory's row is updated in place. So before the directory applies an
enrolment, the number its row names is kept as the subject's former one when the enrolment
names another (``adapters.former_numbers``; migration 0035). A message under a former number
is then read (the fast path's write refuses a batch taking one for nobody's), and a result
of it whose order or sample holds a stored subject's result is refused and kept, never
discarded (``domain.former_numbers``). Every other patient's message costs nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.events.trial import SubjectEnrolled
from shared.messaging.handling import EventHandler

KeepFormer = Callable[[Any, str, str], Awaitable[None]]


def keeping_former_numbers(handler: EventHandler, keep: KeepFormer) -> EventHandler:
    """``handler`` of ``SubjectEnrolled``, the subject's number before it kept first as a
    former one when the enrolment names another (in the same unit of work: an enrolment not
    applied, dead-lettered, keeps nothing either)."""

    async def read_enrolment(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        if isinstance(payload, SubjectEnrolled) and envelope.subject_id is not None:
            await keep(uow, envelope.subject_id, payload.hospital_id_hmac)
        await handler(uow, envelope, payload)

    return read_enrolment
