"""Result status (OBX-11, HL7 table 0085, PROTOCOL section 6): ``F`` final and ``C``
corrected are emitted for decisions, ``P`` preliminary is stored only, ``X``, ``D`` and ``W``
withdraw the earlier result."""

from __future__ import annotations

from services.lab_ingestion.domain.model import ObservationInput, ResultStatusCode

EMITTED = frozenset({ResultStatusCode.FINAL.value, ResultStatusCode.CORRECTED.value})
CANCELLING = frozenset({
    ResultStatusCode.CANNOT_OBTAIN.value, ResultStatusCode.DELETED.value,
    ResultStatusCode.POSTED_AS_WRONG.value,
})  # fmt: skip
KNOWN_STATUSES = EMITTED | CANCELLING | {ResultStatusCode.PRELIMINARY.value}
NEEDS_EARLIER_RESULT = CANCELLING | {ResultStatusCode.CORRECTED.value}


def status_of(observation: ObservationInput) -> str:
    return observation.status.strip().upper()
