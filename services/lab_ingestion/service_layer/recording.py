"""What one batch records: its messages, results and cancellations, each with the events it
emits (pure bookkeeping on the ``BatchContext``; the write stores it). Its rejections:
``rejections``."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import NamedTuple

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.copies_elsewhere import feed_of
from services.lab_ingestion.domain.fhir_cancellations import observation_parts
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.planning import PlannedResult, content_of
from services.lab_ingestion.domain.records import (
    Content,
    EarlierResult,
    MessageRecord,
    ResultRecord,
    Withdrawal,
    WithdrawnVersion,
)
from services.lab_ingestion.domain.report_fields import Report
from services.lab_ingestion.domain.result_status import (
    EMITTED,
    cancellations_asked,
    status_of,
)
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.events import cancelled_event, recorded_event
from services.lab_ingestion.service_layer.rejections import reject
from shared.contracts.envelope import utc_now
from shared.contracts.topics import LAB_RESULTS


class PlannedMessage(NamedTuple):
    """A message's results to record, read in the sender's zone: whether any it leaves out
    says again what its chain holds (``restated``), and under how many keys it reports results
    the lab could not obtain where nothing was held (``not_obtained``: each key once, none
    where the chain or an earlier result of the message held one, ``not_obtained_count``)."""

    message: LabMessage
    results: list[PlannedResult]
    restated: bool
    not_obtained: int
    held_elsewhere: int = 0  # results left out as the other feed's (``copies_elsewhere``)


def keep_message(
    context: BatchContext, command: IngestLabMessage, subject_id: str, results: int, digest: str
) -> uuid.UUID:
    """An enrolled subject's message, kept so that a resend is known as a duplicate, with
    how many of its trial results asked to withdraw one (``cancellations_asked``)."""
    message = command.message
    context.known[(message.source, message.control_id)] = digest
    context.received[(message.source, message.control_id)] = command.received_at
    message_id = uuid.uuid4()
    context.messages.append(
        MessageRecord(
            message_id, message.source, message.control_id, message.channel.value, "accepted",
            subject_id, results, command.received_at, digest, cancellations_asked(message),
            feed_of(message),
        )
    )  # fmt: skip
    return message_id


def record_planned(
    context: BatchContext,
    command: IngestLabMessage,
    plan: PlannedMessage,
    *,
    subject_id: str,
    digest: str,
) -> IngestOutcome:
    """Keep an enrolled subject's message (``plan.message``: as read in the sender's zone)
    with its planned results. None planned: every result a final one that its chain holds
    already, or a cancellation of a chain withdrawn already: a resend under another message
    id, answered as a duplicate (unless nothing it left out was so, ``restated``: results
    that cannot be obtained, under keys that never held one, accepted with nothing to
    store). Its id is kept all the same (with no result): sent again under it, it is
    answered as a duplicate, never applied afresh to what its key holds by then (a
    cancellation, to the patient's new result). ``not_obtained``: how many results it
    left out as not obtained (counted, never stored)."""
    message, planned, restated, not_obtained, held = plan
    stored = sum(1 for _, normalised in planned if normalised is not None)
    message_id = keep_message(context, command, subject_id, stored, digest)
    if not planned:
        # a resend (under another id) counts nothing again
        return IngestOutcome(
            accepted=True, duplicate=restated, not_obtained=0 if restated else not_obtained,
            held_elsewhere=held,
        )  # fmt: skip
    recorded = [
        record_result(
            context,
            message=message,
            message_id=message_id,
            subject_id=subject_id,
            observation=observation,
            normalised=normalised,
        )
        for observation, normalised in planned
    ]
    if context.changed_at is not None:  # a replay's batch: its later messages see the change
        _note_changed(context.changed_at, message.source, planned, command.received_at)
    limits = sum(1 for _, normalised in planned if normalised and normalised.comparator)
    return IngestOutcome(
        accepted=True, results=stored, cancelled=len(planned) - stored,
        not_obtained=not_obtained, limits=limits, held_elsewhere=held,
        result_ids=tuple(i for i in recorded if i is not None),
    )  # fmt: skip


def _note_changed(
    changed_at: dict[tuple[str, str], datetime],
    source: str,
    planned: list[PlannedResult],
    received_at: datetime,
) -> None:
    """When the keys a replayed message changes changed, as the lookup reads it once
    stored: at its message's first arrival, a version or a withdrawal (``withdrawn_at``)."""
    for observation, _ in planned:
        key = (source, observation.result_key)
        changed_at[key] = max(received_at, changed_at.get(key, received_at))


def head_contents(context: BatchContext, message: LabMessage) -> dict[tuple[str, str], Content]:
    """What the heads of the message's result keys say (a final result restating one is a
    duplicate): as stored (read by the lookup) or as this batch left them."""
    keys = {(message.source, o.result_key) for o in message.observations}
    heads = {key: context.latest[key] for key in keys if key in context.latest}
    return {key: head.content for key, head in heads.items() if head.content is not None}


def record_result(
    context: BatchContext,
    *,
    message: LabMessage,
    message_id: uuid.UUID,
    subject_id: str,
    observation: ObservationInput,
    normalised: NormalisedResult | None,
) -> uuid.UUID | None:
    """The result stored (its id), or a withdrawal recorded (None)."""
    key = (message.source, observation.result_key)
    head = context.latest.get(key)
    previous = head.result_id if head else None
    status = status_of(observation)
    if normalised is None:  # X or D: withdraw the result (check_earlier_results: it exists)
        # the patient's own: another patient's under the key (two orders sharing a number) stays
        preliminary = context.preliminary.pop((*key, subject_id), None)
        stored_preliminary = context.stored_preliminary.pop((*key, subject_id), None)
        stored = [previous, stored_preliminary.result_id if stored_preliminary else None]
        withdraw(context, key, subject_id, [i for i in stored if i is not None], message_id)
        _remember_withdrawn(context, key, subject_id, head, [preliminary, stored_preliminary])
        if previous is not None:  # a preliminary result alone was never emitted: no event
            del context.latest[key]
            analyte = identify_analyte(observation.codes)
            assert analyte is not None
            event = cancelled_event(
                subject_id, previous, analyte[0], status, message.source, message_id=message_id
            )
            context.events.append((LAB_RESULTS, event))
        return None
    # only a correction supersedes: check_earlier_results never lets a final result through
    # under a standing final or corrected one (HL7 table 0085)
    assert previous is None or status != ResultStatusCode.FINAL.value, "a final supersedes"
    result_id = uuid.uuid4()
    assert observation.collected_at is not None  # normalise() rejects a missing time
    record = ResultRecord(
        result_id, message_id, subject_id, message.source, observation.result_key, status,
        normalised, observation.collected_at, observation.reported_at, previous,
        other_keys=observation.other_keys,
        identifier_parts=observation_parts(observation, message.channel),
        report_field=observation.report_field if observation.reported_at is not None else None,
    )  # fmt: skip
    context.results.append(record)
    content = content_of(normalised, record.collected_at)
    new_head = EarlierResult(
        result_id, subject_id, normalised.analyte.value, record.collected_at, content,
        _said_before(head, content), record.reported_at, _reported(head, content, record),
        record.report_field, status,
    )  # fmt: skip
    if status in EMITTED:
        context.latest[key] = new_head
        context.events.append((LAB_RESULTS, recorded_event(record, message.channel)))
    else:  # a preliminary result is stored, not emitted, and heads no chain
        context.preliminary[(*key, subject_id)] = new_head
    return result_id


def _remember_withdrawn(
    context: BatchContext,
    key: tuple[str, str],
    subject_id: str,
    head: EarlierResult | None,
    preliminaries: list[EarlierResult | None],
) -> None:
    """What the versions a cancellation withdraws (the patient's under ``key``) said: the
    chain's head and its earlier standing versions, a preliminary result as None. A final
    result of a later message of the batch that restates one is a late copy, as it is in a
    later batch."""
    said = [(head, c) for c in {head.content, *head.superseded}] if head is not None else []
    said += [(p, None) for p in preliminaries if p is not None]
    gone = {
        WithdrawnVersion(version.subject_id, version.analyte, content)
        for version, content in said
        if version.subject_id == subject_id
    }
    context.withdrawn_versions[key] = context.withdrawn_versions.get(key, frozenset()) | gone


def _said_before(head: EarlierResult | None, content: Content) -> frozenset[Content]:
    """What a chain's versions before a new head said: the head it replaces and that head's
    own earlier versions (a final result restating any of them is a delayed copy)."""
    if head is None:
        return frozenset()
    said = set(head.superseded) | ({head.content} if head.content is not None else set())
    return frozenset(said - {content})


def _reported(
    head: EarlierResult | None, content: Content, record: ResultRecord
) -> frozenset[Report]:
    """What a chain's versions said when reported, read from which field, a new head's
    included (those with a report time: a correction resent under a new message id is told
    by it)."""
    reports = set(head.reports) if head is not None else set()
    if head is not None and head.content is not None and head.reported_at is not None:
        reports.add((head.content, head.reported_at, head.report_field))
    if record.reported_at is not None:
        reports.add((content, record.reported_at, record.report_field))
    return frozenset(reports)


def withdraw(
    context: BatchContext,
    key: tuple[str, str],
    subject_id: str,
    results: list[uuid.UUID],
    message_id: uuid.UUID,
) -> None:
    """Withdraw a result with every version of it (same key and patient), preliminary ones
    included, by the message ``message_id``'s cancellation: each version names it.
    ``results``: versions known by id (the chain's head, its stored preliminary).

    The versions this batch is about to store are marked here; stored versions are cancelled
    by the write, which finds the whole chain from any stored id of it but sees only rows
    committed before it: it is handed every stored id this batch knows of the chain."""
    own = {record.result_id for record in context.results}
    stored = {result_id for result_id in results if result_id not in own}
    chain = (*key, subject_id)
    now = context.withdrawn_at or utc_now()
    for index, record in enumerate(context.results):
        if (record.source, record.result_key, record.subject_id) != chain:
            continue
        if record.cancelled_at is None:
            context.results[index] = dataclasses.replace(
                record, cancelled_at=now, cancelled_by=message_id
            )
        if record.supersedes_result_id is not None and record.supersedes_result_id not in own:
            stored.add(record.supersedes_result_id)
    context.cancellations.extend(Withdrawal(i, message_id) for i in sorted(stored))


def resent(context: BatchContext, command: IngestLabMessage, *, same: bool) -> IngestOutcome:
    """A resend (``same``: the same content, ``says_the_same``) is a duplicate; other
    content under a stored message's id is a reused id, never dropped."""
    if same:
        return IngestOutcome(accepted=True, duplicate=True)
    reason = reject(context, command, RejectionCode.REUSED_MESSAGE_ID, REUSED_ID_REASON)
    return IngestOutcome.rejected(RejectionCode.REUSED_MESSAGE_ID, reason)


REUSED_ID_REASON = (
    "this message id (MSH-10) was used before for a message with other results, values "
    "or statuses: send every message, a correction too, under an id of its own"
)
