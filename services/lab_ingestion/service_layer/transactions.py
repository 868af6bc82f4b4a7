"""A FHIR transaction Bundle: its Observations stored all together or not at all."""

from __future__ import annotations

from collections.abc import Callable

from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import check_repeated_version
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
)
from services.lab_ingestion.service_layer.rejections import reject

Apply = Callable[[BatchContext, Command], IngestOutcome]


def apply_transaction(
    context: BatchContext, command: IngestTransaction, apply: Apply, params: UnitParameters
) -> IngestOutcome:
    """Every message of the transaction (``apply``: one message's way), or none: the first
    rejection undoes the rest. A transaction stored before, sent again whole (its answer was
    lost), is a duplicate: its first versions are not judged against the later ones it
    stored itself."""
    if resent_whole(context, command.messages, params):
        duplicate = IngestOutcome(accepted=True, duplicate=True)
        return IngestOutcome(
            accepted=True, duplicate=True, parts=(duplicate,) * len(command.messages)
        )
    saved = context.snapshot()
    results, cancelled, not_obtained, limits, parts = 0, 0, 0, 0, []
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
        not_obtained += outcome.not_obtained
        limits += outcome.limits
        parts.append(outcome)
    return IngestOutcome(
        accepted=True, results=results, cancelled=cancelled, not_obtained=not_obtained,
        limits=limits, parts=tuple(parts),
    )  # fmt: skip


def bundle_resent(
    context: BatchContext, messages: tuple[LabMessage, ...], params: UnitParameters
) -> bool:
    """``resent_whole`` for a batch Bundle's entry, answered once per Bundle while the batch
    changes no chain: each entry of a Bundle sent again whole asks it, and checking the whole
    Bundle for each would cost entries x entries work on the event loop. A chain's head
    changes only with an event (a result recorded, a published result cancelled), so the
    answer holds while the batch's events are as many as when it was given."""
    if not messages:
        return False
    # the Bundle by its messages (each entry's command may hold a tuple of its own of them)
    bundle = (id(messages[0]), id(messages[-1]), len(messages))
    events = len(context.events)
    cached = context.resent_bundles.get(bundle)
    if cached is not None and cached[0] == events:
        return cached[1]
    answer = resent_whole(context, messages, params)
    context.resent_bundles[bundle] = (events, answer)
    return answer


def resent_whole(
    context: BatchContext, messages: tuple[LabMessage, ...], params: UnitParameters
) -> bool:
    """Whether a Bundle is sent again whole: every Observation of it read as stored before
    (``BatchContext.stored_known``: not one this batch stored, a new sibling of the Bundle
    included), none twice in it (its second copy would be known from its first), and for
    each result key the Bundle's last version of it the one its chain holds now (a Bundle
    of one stale version, with or without others, is no resend of it)."""
    keys = [(m.source, m.control_id) for m in messages]
    if not keys or len(set(keys)) < len(keys) or not all(k in context.stored_known for k in keys):
        return False
    last = {(m.source, o.result_key): m for m in messages for o in m.observations}
    return all(check_repeated_version(m, context.latest, params) is None for m in last.values())
