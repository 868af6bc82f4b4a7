"""A subject's former hospital numbers, kept by lab-ingestion's subject directory.

A correction of a subject's enrolment is their ``SubjectEnrolled`` published again on
`trial.subjects.v1` with another hospital number's keyed hash; the event does not say the
old one, and the directory's row is updated in place. So before the directory applies an
enrolment, the number its row names is kept as the subject's former one when the enrolment
names another (``adapters.former_numbers``; migration 0035). A message under a former number
is then read (the fast path's write refuses a batch that discarded one as nobody's), and a
result of it whose order or sample holds a stored subject's result is refused and kept,
never discarded (``domain.former_numbers``; ``former_samples`` reads the subjects'
standing results). Every other patient's message costs nothing more.

A number is a former one at the sender's site (review 201): another site's patient enrolled
under it since hides nothing (hospital numbers are unique only within their hospital), and
a message's PID-4 numbers are never read for a former number (an enrolled subject's old
number there sent every such message to be read and planned again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.copies_elsewhere import NOTHING_ELSEWHERE, StoredElsewhere
from services.lab_ingestion.domain.former_numbers import former_at_site
from services.lab_ingestion.domain.matching import match_subject
from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.records import EnrolledSubject, Sender
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.identification import identifiers_to_hash
from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.events.trial import SubjectEnrolled
from shared.messaging.handling import EventHandler

KeepFormer = Callable[[Any, str, str], Awaitable[None]]
SourceKey = tuple[str, str]


def keeping_former_numbers(handler: EventHandler, keep: KeepFormer) -> EventHandler:
    """``handler`` of ``SubjectEnrolled``, the subject's number before it kept first as a
    former one when the enrolment names another (in the same unit of work: an enrolment not
    applied, dead-lettered, keeps nothing either)."""

    async def read_enrolment(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        if isinstance(payload, SubjectEnrolled) and envelope.subject_id is not None:
            await keep(uow, envelope.subject_id, payload.hospital_id_hmac)
        await handler(uow, envelope, payload)

    return read_enrolment


async def former_samples(
    uow: Any,
    ingests: Sequence[IngestLabMessage],
    hmacs: Mapping[str, str],
    enrolled: Mapping[str, tuple[EnrolledSubject, ...]],
    former: Mapping[str, tuple[EnrolledSubject, ...]],
    *,
    allowed: Mapping[SourceKey, Sender],
) -> StoredElsewhere:
    """The standing results of the subjects whose former numbers at the sender's site the
    batch's messages name (no subject's enrolled at that site now: review 201, another
    site's patient under the number hid the former subject's sample), of those messages'
    analytes, and those messages' results' keys and parts as stored (``former_numbers``);
    one more read, only for a batch holding such a message (rare: after an enrolment's
    correction)."""
    under_former = [
        (m, subjects)
        for m in (c.message for c in ingests)
        for number in identifiers_to_hash(m)
        if (h := hmacs.get(number)) is not None
        and match_subject(enrolled.get(h, ()), site := site_of(m, allowed)) is None
        and (subjects := former_at_site(former.get(h, ()), site))
    ]  # fmt: skip
    checked = [
        (m, o, identified[0].value)
        for m, _ in under_former for o in m.observations
        if (identified := identify_analyte(o.codes)) is not None
    ]  # fmt: skip
    if not checked:
        return NOTHING_ELSEWHERE
    subject_ids = sorted({s for _, subjects in under_former for s in subjects})
    standing, _ = await uow.labs.subjects_results(subject_ids, [a for _, _, a in checked])
    # each result's keys and parts from all its identifiers (``StoredElsewhere.keys_of``)
    return StoredElsewhere(standing, stored_form=uow.labs.stored_key)


def site_of(message: LabMessage, allowed: Mapping[SourceKey, Sender]) -> str | None:
    """The site of the message's sender (None: it has none, every site's patients)."""
    sender = allowed.get(message.settings_key)
    return sender.site_id if sender else None
