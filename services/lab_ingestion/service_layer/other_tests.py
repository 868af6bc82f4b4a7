"""A FHIR Bundle's Observation of another test, read only for what its untyped identifier
holds (``LabMessage.other_test``; ``other_test_keys``, task 217).

Such an entry is ignored, as before, nothing of it stored or kept, unless its identifier
holds the trial result of a subject (as read, or as the batch left it) that it would leave
standing: then it is refused (kept, published), as a lone Observation is by its plan. The
patient is matched as any message's is (enrolled at the sender's site); one who is nobody's,
or a sender that may not deliver, leaves it ignored: nothing of it is looked at further. On
the fast path its key is taken to hold nothing, and the write checks that; one the batch
itself filled is read first (the refusal is made from a read).
"""

from __future__ import annotations

from collections.abc import Callable

from services.lab_ingestion.domain.json_codes import held_result
from services.lab_ingestion.domain.matching import match_subject
from services.lab_ingestion.domain.model import StaleBatch
from services.lab_ingestion.domain.other_test_keys import (
    misfiled_under_identifier,
    under_untyped_key,
)
from services.lab_ingestion.domain.result_status import status_of
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.rejections import reject
from services.lab_ingestion.service_layer.senders import early_answer

IGNORED = IngestOutcome(accepted=True, ignored=True)


def other_test_outcome(
    context: BatchContext, command: IngestLabMessage, hash_identifier: Callable[[str], str]
) -> IngestOutcome:
    """Ignored (nothing stored or kept), or refused where the Observation's untyped
    identifier holds a trial result (``misfiled_under_identifier``)."""
    message = command.message
    identifier = message.patient_identifier
    checked = [(i, o) for i, o in enumerate(message.observations) if under_untyped_key(o)]
    if not checked or not identifier:
        return IGNORED
    sender = context.allowed.get(message.settings_key)
    patient_hmac = context.hmacs.get(identifier) or hash_identifier(identifier)
    subject_id = match_subject(
        context.subjects.get(patient_hmac, ()), sender.site_id if sender else None
    )
    if not isinstance(subject_id, str):  # nobody's (on assumptions: the write checks it)
        return IGNORED
    for index, observation in checked:
        key = (message.source, observation.result_key)
        held = held_result(key, subject_id, context.latest, context.preliminary)
        if held is None:
            if context.assumed:  # taken to hold nothing: the write checks it
                context.assumed_unused.append(key)
            continue
        if context.assumed:  # filled by the batch itself: refused from a read only
            raise StaleBatch("a result key must be read before an Observation is refused")
        refused = misfiled_under_identifier(status_of(observation), held, subject_id)
        if refused is None:
            continue
        if early_answer(context, command, reads_kept_copies=False) is not None:
            return IGNORED  # a sender that may not deliver: nothing of it looked at
        reason = reject(context, command, refused.code, refused.reason)
        return IngestOutcome.rejected(refused.code, reason, observation=index)
    return IGNORED
