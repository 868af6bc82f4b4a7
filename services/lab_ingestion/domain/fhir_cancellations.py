"""A FHIR Observation ``cancelled`` without a value (pure: no I/O): a test cancelled before
it was resulted (FHIR R4: "the measurement was not started or not completed"; a cancelled
order's tests are reported so). Under a result key that never held anything, for anyone, it
is left out as HL7's X there is (``message_chains.obtains_nothing``): nothing to withdraw,
nothing to record (review 157: beside a grade-4 ANC a transaction was refused whole, told
"send the final result first", which no laboratory can follow for a test never resulted).

A FHIR result is kept under its token's name, so a cancellation finding nothing under it may
be meant for a result kept under another (a token replaced under a new name; its bound
sender's during the window the tokens' upgrade note names: reviews 67, 72, 73). Where the
patient holds a result under the same identifier under another sender's name, it is refused
(``cancelled_elsewhere``, naming those senders), never left out while that result stands.
A ``cancelled`` carrying a value, and an ``entered-in-error`` (FHIR's withdrawal of a
released result), finding nothing are refused as before (``withdrawn_chains``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.result_status import status_of
from shared.contracts.events.lab import Channel

SourceKey = tuple[str, str]
SubjectKey = tuple[str, str]  # a subject id and a result key
_NAMED = 3  # other senders named in a reason at most


def cancelled_before_resulting(observation: ObservationInput, channel: Channel) -> bool:
    """A FHIR ``cancelled`` (read as X) trial result without a value: no value[x], or a
    dataAbsentReason."""
    return (
        channel is Channel.FHIR
        and status_of(observation) == ResultStatusCode.CANNOT_OBTAIN.value
        and not observation.value.strip()
        and identify_analyte(observation.codes) is not None
    )


def cancelled_elsewhere(
    message: LabMessage,
    subject_id: str,
    held: Mapping[SubjectKey, frozenset[str]],
    never_held: Callable[[SourceKey], bool],
) -> Rejected | None:
    """Why a FHIR ``cancelled`` without a value that finds nothing under its token's name
    (``never_held``) is not left out: the patient holds a standing result under the same
    identifier under another sender's name (``held``: the senders holding one, by subject
    and result key). None: there is none (or it is no such cancellation)."""
    for index, observation in enumerate(message.observations):
        if not cancelled_before_resulting(observation, message.channel):
            continue
        others = held.get((subject_id, observation.result_key), frozenset()) - {message.source}
        if others and never_held((message.source, observation.result_key)):
            return _held_elsewhere(others).at(index)
    return None


def _held_elsewhere(others: frozenset[str]) -> Rejected:
    """The instruction first (an OperationOutcome's diagnostics, as MSA-3, are read from
    the start); sender names are the operator's (allow-list entries, token names)."""
    names = ", ".join(repr(name) for name in sorted(others)[:_NAMED])
    more = f" and {len(others) - _NAMED} more" if len(others) > _NAMED else ""
    return Rejected(
        RejectionCode.UNKNOWN_CORRECTED_RESULT,
        f"send the cancellation with the token the result is stored under (sender {names}"
        f"{more}), or ask the trial's operator: the patient's result under this identifier "
        "(Observation.identifier) stands under another sender's name, none under this "
        "token's (a token replaced under a new name?); it is not left out as a test never "
        "resulted while that result stands",
    )
