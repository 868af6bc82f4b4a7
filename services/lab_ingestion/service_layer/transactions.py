"""A FHIR transaction Bundle: its Observations stored all together or not at all."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial

from services.lab_ingestion.domain.bundle_resends import BundleVersions, resent_in_bundle
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.rejections import reject
from services.lab_ingestion.service_layer.subjects import subject_of

Apply = Callable[[BatchContext, Command], IngestOutcome]
log = logging.getLogger(__name__)
# what a failed transaction's copy is, when the copy without some entries cannot be made
COPY_NOT_MADE = "(payload not kept: it could not be redacted)"


def apply_transaction(
    context: BatchContext, command: IngestTransaction, apply: Apply
) -> IngestOutcome:
    """Every message of the transaction (``apply``: one message's way), or none: the first
    rejection undoes the rest, and so does a message answered "resend" (the whole
    transaction is, nothing of it kept). A transaction stored before, sent again whole (its
    answer was lost), is answered as a resend message by message: its first versions are not
    judged against the later ones it stored itself (``bundle_resent``)."""
    saved = context.snapshot()
    results, cancelled, not_obtained, limits, parts = 0, 0, 0, 0, []
    for index, message in enumerate(command.messages):
        single = IngestLabMessage(
            message, command.redact, command.received_at, check_source=False,
            inherited_rejection_id=command.rejection_id, bundle=command.messages,
        )  # fmt: skip
        outcome = apply(context, single)
        if outcome.transient:  # answered "resend" (``directory_gate``): nothing of it kept
            context.restore(saved)
            return replace(outcome, failed_part=index)
        if not outcome.accepted:
            context.restore(saved)
            code = outcome.code or RejectionCode.MALFORMED
            reason = reject(
                context,
                replace(single, redact=_kept_copy(context, command, index)),
                code,
                f"transaction rejected: {outcome.reason}",
            )
            return IngestOutcome(accepted=False, code=code, reason=reason, failed_part=index)
        results += outcome.results
        cancelled += outcome.cancelled
        not_obtained += outcome.not_obtained
        limits += outcome.limits
        parts.append(outcome)
    return IngestOutcome(
        accepted=True, results=results, cancelled=cancelled, not_obtained=not_obtained,
        limits=limits, parts=tuple(parts),
    )  # fmt: skip


def _kept_copy(context: BatchContext, command: IngestTransaction, failed: int) -> Callable[[], str]:
    """The rejected transaction's copy, without the entries of patients not enrolled: had it
    been stored, their messages would have been discarded with nothing of them kept."""
    absent = frozenset(
        index
        for index, message in enumerate(command.messages)
        if index != failed and _nobodys(context, message, command.received_at)
    )
    if not absent or command.redact_without is None:
        return command.redact
    return partial(command.redact_without, absent)


def failed_transaction_copy(
    context: BatchContext, command: RecordRejectedInput
) -> RecordRejectedInput:
    """A transaction the service failed on (``unprocessable``), kept as processing-failed
    as a rejected one is: without the entries of patients not enrolled (fix111: it kept
    its whole copy). The enrolments are the batch's, read for its messages."""
    if command.redact_without is None:
        return command
    absent = frozenset(
        index
        for index, message in enumerate(command.messages)
        if _nobodys(context, message, command.received_at)
    )
    if not absent:
        return replace(command, redact_without=None)
    try:
        payload = command.redact_without(absent)
    except Exception as exc:  # never keep more than a rejected transaction would
        log.error("redacting a failed transaction failed", extra={"error": type(exc).__name__})
        payload = COPY_NOT_MADE
    return replace(command, redacted_payload=payload, redact_without=None)


def _nobodys(context: BatchContext, message: LabMessage, received_at: datetime) -> bool:
    """Whether the message is about nobody the trial follows (discarded when stored); one
    without a number to match by is kept (it may be rejected for that)."""
    identifier = message.patient_identifier
    patient_hmac = context.hmacs.get(identifier) if identifier else None
    return (
        patient_hmac is not None and subject_of(context, message, patient_hmac, received_at) is None
    )


def bundle_resent(
    context: BatchContext, command: IngestLabMessage, params: UnitParameters, subject_id: str
) -> bool:
    """Whether the message of ``command``, a stored version whose chain moved on, is a
    resend in the Bundle it came in (``resent_in_bundle``: for each of its results, every
    version the Bundle holds of it received before, its last the chain's head). The Bundle's
    versions are indexed once per batch, whichever of its entries asks first."""
    bundle = command.bundle
    if not bundle:
        return False
    # the Bundle by its messages (each entry's command holds the same tuple of them)
    key = (id(bundle[0]), id(bundle[-1]), len(bundle))
    versions = context.bundles.get(key)
    if versions is None or versions.received_at != command.received_at:
        versions = BundleVersions.of(bundle, command.received_at)
        context.bundles[key] = versions
    return resent_in_bundle(
        command.message, versions, context.received, context.latest, params,
        subject_id=subject_id,
    )  # fmt: skip
