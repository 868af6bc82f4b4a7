"""A correction or cancellation whose patient's number names no enrolled subject now, of a
result stored as a subject's (pure: no I/O).

Typically the subject's enrolment was corrected since (``trial.subjects.v1`` published again
with another hospital number) and the lab still sends under the number the result was
stored under. Such a message was discarded as not enrolled, and the subject's published
value stood uncorrected and uncancelled (review 185). It is refused and kept instead
(``result-of-another-patient``, as when the number names another enrolled subject), never
applied: whose the message is cannot be told. The hospital may have renumbered the
subject (the lab's correction is of their sample), but the enrolment may as well have named
the wrong patient's number (the stored result was never the subject's, and the lab's
correction is another patient's new value), or the lab may have sent another patient's
result under the subject's order number; a stored result does not record the number it was
stored under, so none of these is told apart. Kept, it is seen (``cachexia rejection
list``, ``lab.rejected.v1``); sent again under the subject's current number it is applied
(a result key is the sender's order and test, whoever's number names them).
"""

from __future__ import annotations

from collections.abc import Mapping

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import LabMessage, Rejected, RejectionCode
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.result_status import NEEDS_EARLIER_RESULT, status_of

SourceKey = tuple[str, str]


def acts_on_stored_results(message: LabMessage) -> bool:
    """Whether the message corrects or cancels a trial result: only such a message of a
    number that names nobody is looked at further (a new result of nobody's is discarded
    without a look at any stored chain, which the fast path does not read)."""
    return any(
        status_of(o) in NEEDS_EARLIER_RESULT and identify_analyte(o.codes) is not None
        for o in message.observations
    )


def of_a_subject_renumbered(
    message: LabMessage, heads: Mapping[SourceKey, EarlierResult]
) -> Rejected | None:
    """The rejection of a message of a number naming no enrolled subject that corrects or
    cancels a result stored as a subject's (``heads``: each key's chain head, or a standing
    preliminary result); None when it acts on no stored result (nobody's: discarded)."""
    stored = any(
        status_of(o) in NEEDS_EARLIER_RESULT
        and identify_analyte(o.codes) is not None
        and (message.source, o.result_key) in heads
        for o in message.observations
    )
    if not stored:
        return None
    return Rejected(
        RejectionCode.OTHER_PATIENTS_RESULT,
        "send this correction or cancellation under the patient's current hospital number: "
        "the result it names is stored as a trial subject's, whose enrolment does not name "
        "this number (any more); if this number never was theirs, tell the trial team",
    )
