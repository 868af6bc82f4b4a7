"""A FHIR transaction Bundle: its Observations stored all together or not at all."""

from __future__ import annotations

from collections.abc import Callable

from services.lab_ingestion.domain.analytes import identify_analyte
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
)
from services.lab_ingestion.service_layer.recording import reject

Apply = Callable[[BatchContext, Command], IngestOutcome]


def apply_transaction(
    context: BatchContext, command: IngestTransaction, apply: Apply
) -> IngestOutcome:
    """Every message of the transaction (``apply``: one message's way), or none: the first
    rejection undoes the rest. A transaction stored before, sent again whole (its answer was
    lost), is a duplicate: its first versions are not judged against the later ones it
    stored itself."""
    if resent_whole(context, command.messages):
        duplicate = IngestOutcome(accepted=True, duplicate=True)
        return IngestOutcome(
            accepted=True, duplicate=True, parts=(duplicate,) * len(command.messages)
        )
    saved = context.snapshot()
    results, cancelled, parts = 0, 0, []
    for index, message in enumerate(command.messages):
        single = IngestLabMessage(
            message, command.redact, command.received_at, check_source=False,
            inherited_rejection_id=command.rejection_id, bundle=command.messages,
        )  # fmt: skip
        outcome = apply(context, single)
        if not outcome.accepted:
            context.restore(saved)
            code = outcome.code or RejectionCode.MALFORMED
            reason = f"transaction rejected: {outcome.reason}"
            reject(context, single, code, reason)
            return IngestOutcome(accepted=False, code=code, reason=reason, failed_part=index)
        results += outcome.results
        cancelled += outcome.cancelled
        parts.append(outcome)
    return IngestOutcome(accepted=True, results=results, cancelled=cancelled, parts=tuple(parts))


def resent_whole(context: BatchContext, messages: tuple[LabMessage, ...]) -> bool:
    """Every message stored before (its id is known: a FHIR version's id is its content) but
    those of no trial analyte (never stored), and one at least. A Bundle that holds one
    version twice is never taken for a resend: its second copy may be known only from its
    first, in this very Bundle."""
    keys = [(m.source, m.control_id) for m in messages]
    if len(set(keys)) < len(keys):
        return False
    stored = [key in context.known for key in keys]
    ignored = [not any(identify_analyte(o.codes) for o in m.observations) for m in messages]
    return any(stored) and all(s or i for s, i in zip(stored, ignored, strict=True))
