"""Which of a message's observations the trial keeps, and as what (pure: no I/O).

Result status (OBX-11, PROTOCOL section 6): ``F`` final and ``C`` corrected are emitted for
decisions, ``P`` preliminary is stored only, ``X`` and ``D`` withdraw the earlier result.
A trial result that cannot be used rejects the whole message; observations of analytes the
trial does not follow are ignored.
"""

from __future__ import annotations

from services.lab_ingestion.domain.analytes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters, normalise

EMITTED = frozenset({ResultStatusCode.FINAL.value, ResultStatusCode.CORRECTED.value})
CANCELLING = frozenset({ResultStatusCode.CANNOT_OBTAIN.value, ResultStatusCode.DELETED.value})
KNOWN_STATUSES = EMITTED | CANCELLING | {ResultStatusCode.PRELIMINARY.value}
NEEDS_EARLIER_RESULT = CANCELLING | {ResultStatusCode.CORRECTED.value}

PlannedResult = tuple[ObservationInput, NormalisedResult | None]  # None: a cancellation


def status_of(observation: ObservationInput) -> str:
    return observation.status.strip().upper()


def plan_results(message: LabMessage, params: UnitParameters) -> list[PlannedResult] | Rejected:
    """Each trial observation with its normalised value (None for a cancellation)."""
    planned: list[PlannedResult] = []
    for observation in message.observations:
        if identify_analyte(observation.codes) is None:
            continue
        status = status_of(observation)
        if status not in KNOWN_STATUSES:
            return Rejected(
                RejectionCode.UNKNOWN_STATUS, f"result status {observation.status!r} unknown"
            )
        if status in CANCELLING:
            planned.append((observation, None))
            continue
        normalised = normalise(observation, params)
        if isinstance(normalised, Rejected):
            return normalised
        if normalised is not None:
            planned.append((observation, normalised))
    if not planned:
        return Rejected(
            RejectionCode.UNKNOWN_ANALYTE, "the message holds no result of a trial analyte"
        )
    return planned


def needs_earlier_result(message: LabMessage) -> bool:
    """A correction or cancellation names the result it replaces: it needs a lookup."""
    return any(status_of(o) in NEEDS_EARLIER_RESULT for o in message.observations)
