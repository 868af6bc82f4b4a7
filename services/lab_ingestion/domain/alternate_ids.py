"""An enrolled subject's number written only in PID-4 (pure: no I/O).

PID-4, the alternate patient id of HL7 v2.3-2.5.1, is never the patient's number: read as
one (review 185) a typed MR there displaced PID-3's enrolled number and an alternate id
beside it was refused as ambiguous (review 190). But a laboratory writing its own number in
PID-3 and the hospital's record number in PID-4 had its results for an enrolled subject
discarded as not enrolled (task 195). So when PID-3 names nobody, and one of PID-4's numbers
of the sender's assigning authority (read as PID-3's are: patient number types only, its
numbers when the sender has one configured or naming none, else of PID-3's authority or
naming none) names a subject, the message is refused and kept (``result-of-another-patient``),
never matched: whose it is cannot be told (the subject's sample, or another patient's whose
alternate id happens to be a subject's number). Sent again with the subject's number in
PID-3, it is stored. When PID-3 names a subject, PID-4 is not looked at; a PID-4 number
naming nobody changes nothing (discarded as not enrolled, nothing kept).

"PID-3 names nobody" means nobody at all at the sender's site: no subject enrolled or
withdrawn under its number, and no subject's former number (review 201: a withdrawn
subject's sample collected after the withdrawal, discarded under PID-3, was refused when
PID-4 repeated the number). A subject withdrawn under a PID-4 number counts only for a
sample collected by the withdrawal (or whose collection time is not said), as under PID-3
(``withdrawal``): a later sample is no trial result.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import (
    IdentifierCandidate,
    LabMessage,
    Rejected,
    RejectionCode,
    authority_name,
)
from services.lab_ingestion.domain.records import WithdrawnSubject
from services.lab_ingestion.domain.result_status import carries_a_result


def alternate_numbers(message: LabMessage, authority_names: Sequence[str]) -> list[str]:
    """The message's PID-4 numbers of the sender's assigning authority (``authority_names``:
    its configured names; none: PID-3's authority)."""
    wanted = {authority_name(name) for name in authority_names if name.strip()}
    if not wanted:  # the sender's numbers are PID-3's, of whatever authority they name
        wanted = {n for c in message.identifier_candidates for n in c.authority_names}
    return [c.value for c in message.alternate_candidates if _of(c, wanted)]


def _of(candidate: IdentifierCandidate, wanted: set[str]) -> bool:
    names = candidate.authority_names
    return bool(candidate.value) and (not names or not wanted or bool(names & wanted))


def names_a_subject(
    message: LabMessage, *, enrolled: bool, withdrawn: Sequence[WithdrawnSubject]
) -> bool:
    """Whether a PID-4 number names a subject the message may be about: one enrolled at the
    sender's site (``enrolled``), or one withdrawn there (``withdrawn``) when a trial result
    of the message was collected by the withdrawal or its collection time is not said
    (``message``: its times read in the sender's zone)."""
    if enrolled:
        return True
    return bool(withdrawn) and any(
        o.collected_at is None or any(o.collected_at <= w.withdrawn_at for w in withdrawn)
        for o in message.observations
        if identify_analyte(o.codes) is not None and carries_a_result(o)
    )


def named_only_in_pid4() -> Rejected:
    return Rejected(
        RejectionCode.OTHER_PATIENTS_RESULT,
        "PID-3's patient number names no trial subject, but PID-4 (the alternate patient id, "
        "never matched) names one: send the result with the subject's hospital number in "
        "PID-3; if PID-4's number is not this patient's, tell the trial team",
    )
