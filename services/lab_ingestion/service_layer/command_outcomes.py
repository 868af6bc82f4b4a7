"""Each command of a batch applied to the batch's context (``ingest.BatchIngestor``): a
message matched, checked against what is stored and planned, recorded or rejected; a
transaction Bundle whole; a rejected input kept. Outcomes are worded in the sender's format."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from services.lab_ingestion.domain.message_identity import content_digest, says_the_same
from services.lab_ingestion.domain.model import Rejected
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import check_repeated_version
from services.lab_ingestion.domain.reason_wording import worded
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.identification import is_unresolved, unresolved_outcome
from services.lab_ingestion.service_layer.message_plans import plan_message
from services.lab_ingestion.service_layer.recording import record_planned, resent
from services.lab_ingestion.service_layer.rejections import reject
from services.lab_ingestion.service_layer.result_keys import keyed_as_planned
from services.lab_ingestion.service_layer.senders import early_answer, rejection_of_input
from services.lab_ingestion.service_layer.subjects import subject_or_answer
from services.lab_ingestion.service_layer.transactions import (
    apply_transaction,
    bundle_resent,
    failed_transaction_copy,
)
from shared.contracts.events.lab import Channel


class CommandApplier:
    def __init__(
        self,
        hash_identifier: Callable[[str], str],
        params: UnitParameters,
        *,
        reads_kept_copies: bool = False,
    ) -> None:
        self._hash = hash_identifier
        self._params = params
        # a replay's: patient identifiers are kept copies' keyed hashes (``kept_copy``)
        self._reads_kept_copies = reads_kept_copies

    def apply(self, context: BatchContext, command: Command) -> IngestOutcome:
        outcome = self._applied(context, command)
        if outcome.reason:  # a JSON or FHIR sender's words, as kept (``rejections.reject``)
            return dataclasses.replace(outcome, reason=worded(outcome.reason, _channel(command)))
        return outcome

    def _applied(self, context: BatchContext, command: Command) -> IngestOutcome:
        if isinstance(command, IngestTransaction):
            return apply_transaction(context, command, self.apply)
        if isinstance(command, RecordRejectedInput):
            command = failed_transaction_copy(context, command)
            code, reason = rejection_of_input(context, command)
            return IngestOutcome.rejected(code, reject(context, command, code, reason))
        outcome = early_answer(context, command, reads_kept_copies=self._reads_kept_copies)
        if outcome is not None:
            if not outcome.accepted and outcome.code is not None:  # answered as kept
                reason = reject(context, command, outcome.code, outcome.reason)
                return dataclasses.replace(outcome, reason=reason)
            return outcome
        return self._accept(context, command)

    def _accept(self, context: BatchContext, command: IngestLabMessage) -> IngestOutcome:
        message = command.message
        if is_unresolved(message):  # no number to match by: discarded or rejected
            outcome = unresolved_outcome(context, message, self._hash, command.received_at)
            if outcome.code is not None:  # answered as kept
                reason = reject(context, command, outcome.code, outcome.reason)
                outcome = dataclasses.replace(outcome, reason=reason)
            return outcome
        assert message.patient_identifier is not None
        identifier = message.patient_identifier
        patient_hmac = context.hmacs.get(identifier) or self._hash(identifier)
        # a FHIR version of a result an earlier message of the batch planned: keyed as it
        command = keyed_as_planned(context, command, patient_hmac)
        message = command.message
        digest = content_digest(message, patient_hmac)
        key = (message.source, message.control_id)
        subject_id = subject_or_answer(context, command, patient_hmac, digest)
        if isinstance(subject_id, IngestOutcome):
            return subject_id
        if key in context.known:  # a stored message's id: a resend, or a reused id
            same = says_the_same(context.known[key], digest, message, patient_hmac)
            moved_on = check_repeated_version(message, context.latest, self._params, subject_id)
            if (
                same
                and moved_on is not None
                and not bundle_resent(context, command, self._params, subject_id)
            ):  # a stale version, unless its Bundle is sent again whole for its results
                reason = reject(context, command, moved_on.code, moved_on.reason)
                return IngestOutcome.rejected(moved_on.code, reason)
            return resent(context, command, same=same)
        plan = plan_message(
            context, message, subject_id, command.received_at, command.bundle, params=self._params
        )
        if isinstance(plan, Rejected):
            return _unplanned(context, command, plan)
        return record_planned(context, command, plan, subject_id=subject_id, digest=digest)


def _channel(command: Command) -> Channel:
    """The channel ``command``'s sender speaks (its answer names that format's fields)."""
    if isinstance(command, IngestLabMessage):
        return command.message.channel
    if isinstance(command, RecordRejectedInput):
        return command.channel
    return Channel.FHIR  # a transaction Bundle


def _unplanned(
    context: BatchContext, command: IngestLabMessage, rejected: Rejected
) -> IngestOutcome:
    """A message whose results cannot be recorded: rejected."""
    reason = reject(context, command, rejected.code, rejected.reason)
    return IngestOutcome.rejected(
        rejected.code, reason, observation=rejected.observation, place=rejected.place
    )
