"""Whose a message is, and its times read in its sender's zone: what a batch decides about
each message before planning its results."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from services.lab_ingestion.domain.alternate_ids import (
    alternate_numbers,
    named_only_in_pid4,
    names_a_subject,
)
from services.lab_ingestion.domain.former_numbers import former_at_site, of_a_former_number
from services.lab_ingestion.domain.matching import match_subject
from services.lab_ingestion.domain.message_identity import says_the_same
from services.lab_ingestion.domain.model import LabMessage, Rejected, StaleBatch
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.renumbered_subjects import (
    acts_on_stored_results,
    of_a_subject_renumbered,
)
from services.lab_ingestion.domain.sample_times import in_site_time, plausible_report_times
from services.lab_ingestion.domain.withdrawal import subject_with_withdrawn, withdrawn_at_site
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.directory_gate import not_found_while_catching_up
from services.lab_ingestion.service_layer.recording import resent
from services.lab_ingestion.service_layer.rejections import reject


def in_sender_time(
    context: BatchContext, message: LabMessage, received_at: datetime
) -> LabMessage | Rejected:
    """Local collection and report times read in the sender's zone, when one is configured,
    then report times that cannot be trusted dropped (``plausible_report_times``)."""
    sender = context.allowed.get(message.settings_key)
    zone = sender.time_zone if sender else None
    sited = in_site_time(message, site_zone(zone)) if zone else message
    if isinstance(sited, Rejected):
        return sited
    return plausible_report_times(sited, received_at)


def subject_of(
    context: BatchContext, message: LabMessage, patient_hmac: str, received_at: datetime
) -> str | Rejected | None:
    """The subject the message is about: the one enrolled under its identifier at the
    sender's site, unless subjects withdrawn under it (read on the careful path only) may
    own it (``subject_with_withdrawn``); a rejection when that cannot be told, or when its
    collection times cannot be read or are missing or implausible (never discarded unseen);
    None: nobody's. Only subjects withdrawn at the sender's site are looked at (numbers are
    unique only within a hospital): another site's patient with the number is no reason to
    reject a message about this site's patient who is not enrolled, nor to keep its copy.
    A correction or cancellation of nobody's number that names a result stored as a
    subject's (whose enrolment was corrected to another number since) is refused, never
    discarded unseen (``renumbered_subjects``; such messages take the careful path, whose
    read holds the chains: no read is added); so is any trial result under a subject's
    former number whose order or sample holds a stored subject's result (``former_numbers``:
    the fast path's write refuses a batch that discarded a message under a former number;
    a former number at the sender's site counts though another site enrolled a patient
    under it since, review 201)."""
    sender = context.allowed.get(message.settings_key)
    site = sender.site_id if sender else None
    active = match_subject(context.subjects.get(patient_hmac, ()), site)
    withdrawn = withdrawn_at_site(context.withdrawn.get(patient_hmac, ()), site)
    if active is None and not withdrawn and context.directory_complete:
        # (until the directory caught up, nobody's number is answered "resend": review 190)
        return _of_a_renumbered_subject(context, message, patient_hmac, site)
    if isinstance(active, Rejected) or not withdrawn:
        return active
    sited = in_sender_time(context, message, received_at)
    if isinstance(sited, Rejected):
        return sited
    concerned = {active, *(w.subject.subject_id for w in withdrawn)}
    heads = _heads(context, concerned)
    return subject_with_withdrawn(sited, active, withdrawn, heads, site, received_at=received_at)


def _of_a_renumbered_subject(
    context: BatchContext, message: LabMessage, patient_hmac: str, site: str | None
) -> Rejected | None:
    """The rejection of a message of a number naming nobody enrolled that acts on a result
    stored as a subject's (``renumbered_subjects``), or, under a subject's former number,
    whose order or sample holds a stored subject's result (``former_numbers``); None when
    it is nobody's."""
    refused = None
    if acts_on_stored_results(message):
        refused = of_a_subject_renumbered(message, _heads(context, None))
    former = former_at_site(context.former.get(patient_hmac, ()), site)
    if refused is None and former:
        refused = of_a_former_number(message, former, _heads(context, None), context.former_samples)
    return refused


def _heads(
    context: BatchContext, concerned: set[str | None] | None
) -> dict[tuple[str, str], EarlierResult]:
    """A key's head, else a preliminary result there of one of the subjects ``concerned``
    (None: of anyone)."""
    heads = dict(context.latest)
    for (source, key, subject), preliminary in context.preliminary.items():
        if concerned is None or subject in concerned:
            heads.setdefault((source, key), preliminary)
    return heads


def not_enrolled(context: BatchContext, hmacs: list[str]) -> IngestOutcome:
    """The answer to a message about nobody enrolled under ``hmacs`` as the batch read
    them: discarded, nothing of it kept, not even its message id, so that a resend after
    the enrolment reached us is stored, not taken for a duplicate; but answered "resend"
    (nothing kept either) while the directory may still lack an enrolment recorded before
    the service started (``directory_gate``)."""
    if not context.directory_complete:
        return not_found_while_catching_up()
    context.discarded.extend(hmacs)
    return IngestOutcome(accepted=True, enrolled=False)


def named_in_pid4(
    context: BatchContext, message: LabMessage, pid3_hmacs: Sequence[str], received_at: datetime
) -> Rejected | None:
    """The rejection of a message whose PID-3 numbers (``pid3_hmacs``) name nobody at all at
    the sender's site (no subject enrolled or withdrawn, no former number) while one of its
    PID-4 numbers of the sender's authority names a subject there (``alternate_ids``:
    enrolled, or withdrawn and a sample collected by then; never matched by it); None when
    none does. A PID-4 number that is a PID-3 one is never a reason. Not before the
    directory caught up: the message is answered "resend" then, as any nobody's."""
    if not message.alternate_candidates or not context.directory_complete:
        return None
    sender = context.allowed.get(message.settings_key)
    site = sender.site_id if sender else None
    if not all(_names_nobody(context, hmac, site) for hmac in pid3_hmacs):
        return None
    names = sender.identifier_authorities if sender else ()
    sited: LabMessage | None = None
    for number in alternate_numbers(message, names):
        hmac = context.hmacs.get(number)
        if hmac is None or hmac in pid3_hmacs:
            continue
        withdrawn = withdrawn_at_site(context.withdrawn.get(hmac, ()), site)
        if withdrawn and sited is None:  # its times read in the sender's zone, once
            read = in_sender_time(context, message, received_at)
            sited = read if isinstance(read, LabMessage) else _times_unread(message)
        enrolled = match_subject(context.subjects.get(hmac, ()), site) is not None
        if names_a_subject(sited or message, enrolled=enrolled, withdrawn=withdrawn):
            return named_only_in_pid4()
    return None


def _names_nobody(context: BatchContext, hmac: str, site: str | None) -> bool:
    """Whether a PID-3 number names nobody at all at the sender's site: no subject enrolled
    or withdrawn under it, and no subject's former number."""
    return (
        match_subject(context.subjects.get(hmac, ()), site) is None
        and not withdrawn_at_site(context.withdrawn.get(hmac, ()), site)
        and not former_at_site(context.former.get(hmac, ()), site)
    )


def _times_unread(message: LabMessage) -> LabMessage:
    """``message`` with no collection time said (its times could not be read): a withdrawn
    subject's sample whose time is not known is never discarded unseen."""
    observations = tuple(replace(o, collected_at=None) for o in message.observations)
    return replace(message, observations=observations)


@functools.cache
def site_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # names are checked when a sender is added


def subject_or_answer(
    context: BatchContext, command: IngestLabMessage, patient_hmac: str, digest: str
) -> str | IngestOutcome:
    """The subject a message is about, or its answer without one: discarded (nobody's),
    rejected, or, stored before, a duplicate."""
    message = command.message
    subject_id = subject_of(context, message, patient_hmac, command.received_at)
    if subject_id is None:
        subject_id = named_in_pid4(context, message, [patient_hmac], command.received_at)
    if subject_id is None:
        return not_enrolled(context, [patient_hmac])
    if not isinstance(subject_id, Rejected):
        return subject_id
    if context.assumed:  # read first: the message may be stored already
        raise StaleBatch("a message's subject must be read before rejecting it")
    key = (message.source, message.control_id)
    if key in context.known and says_the_same(context.known[key], digest, message, patient_hmac):
        # stored before: a resend (a lost ACK) is a duplicate, whatever the subject
        # directory says since (a withdrawal, a second enrolment)
        return resent(context, command, same=True)
    reason = reject(context, command, subject_id.code, subject_id.reason)
    return IngestOutcome.rejected(subject_id.code, reason)
