"""A result sent under a subject's former hospital number, of an order or sample holding a
stored subject's result (pure: no I/O).

After a subject's enrolment is corrected to another hospital number (``trial.subjects.v1``
publishes it again), the laboratory may still send under the number the subject's results
were stored under: its final result of a stored preliminary, another preliminary, a final
of the sample under another key. Such a message names nobody enrolled, and was discarded
as not enrolled: the lab's final of a stored preliminary was lost (task 195; corrections and
cancellations were already refused: ``renumbered_subjects``). Now, when the number is one a
subject's enrolment named before (the directory keeps each corrected enrolment's former
number: ``service_layer.former_numbers``), a trial result of the message whose key (sender,
order, test) holds a stored result, anyone's, or whose sample holds a standing result of
that subject, is refused and kept (``result-of-another-patient``), never discarded and
never stored as the subject's: whose it is cannot be told (the hospital renumbered the
subject, or the enrolment named the wrong patient's number at first), as
``renumbered_subjects`` says. Sent again under the subject's current number, it is stored.
A result of a new order and sample under a former number is nobody's: discarded, as any.

A sample is the former subject's standing result (any status) of the same analyte,
collected within ``SAME_SAMPLE`` of it, stored under the same key or sharing an identifier
part with its keys (``copies_elsewhere``: the order number), whatever the sender.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere, same_sample
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EarlierResult, EnrolledSubject
from services.lab_ingestion.domain.result_status import carries_a_result

SourceKey = tuple[str, str]


def former_at_site(former: Iterable[EnrolledSubject], site_id: str | None) -> frozenset[str]:
    """The subjects a number was a former one of at the sender's site (every site's when the
    sender has none: hospital numbers are unique only within their hospital)."""
    return frozenset(s.subject_id for s in former if site_id is None or s.site_id == site_id)


def of_a_former_number(
    message: LabMessage,
    subjects: frozenset[str],
    heads: Mapping[SourceKey, EarlierResult],
    samples: StoredElsewhere,
) -> Rejected | None:
    """The rejection of a message under a number that was ``subjects``' before their
    enrolment was corrected, one of whose trial results finds a stored result under its key
    (``heads``: each key's chain head, or a standing preliminary, anyone's) or a standing
    result of one of ``subjects`` of its sample (``samples``: their standing results, and
    the keyed hash each result's keys and parts are stored as); None when none does
    (nobody's: discarded)."""
    if not subjects:
        return None
    for observation in message.observations:
        identified = identify_analyte(observation.codes)
        if identified is None or not carries_a_result(observation):
            continue
        key = (message.source, observation.result_key)
        if key in heads or _of_the_sample(
            message, observation, identified[0].value, subjects, samples
        ):
            return Rejected(
                RejectionCode.OTHER_PATIENTS_RESULT,
                "send this result under the patient's current hospital number: its order or "
                "sample holds a trial subject's result, whose enrolment no longer names this "
                "number; if this number never was theirs, tell the trial team",
            )
    return None


def _of_the_sample(
    message: LabMessage,
    observation: ObservationInput,
    analyte: str,
    subjects: frozenset[str],
    samples: StoredElsewhere,
) -> bool:
    source = message.source
    keys, parts = samples.keys_of(source, observation, message.channel)
    return any(
        r.analyte == analyte
        and same_sample(r.collected_at, observation.collected_at)
        and (
            (r.source == source and r.stored_key in keys)
            or (r.parts is not None and not r.parts.isdisjoint(parts))
        )
        for subject in subjects
        for r in samples.standing.get(subject, ())
    )
