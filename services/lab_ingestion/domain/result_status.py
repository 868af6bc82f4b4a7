"""Result status (OBX-11, HL7 table 0085, PROTOCOL section 6): ``F`` final and ``C``
corrected are emitted for decisions, ``P`` preliminary is stored only, ``X``, ``D`` and ``W``
withdraw the earlier result.

Table 0085's other codes: ``R`` (entered, not verified) and ``S`` (partial) are results
that are not final either, read (and stored) as ``P``; ``I`` (specimen in lab, results
pending), ``O`` (order detail only, no result) and ``N`` (not asked) carry no result, and
such an observation is left out as another test's is; ``U`` (changed to final without the
results sent again) is refused: the platform applies only the values it receives.
"""

from __future__ import annotations

from typing import Final

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import LabMessage, ObservationInput, ResultStatusCode

EMITTED = frozenset({ResultStatusCode.FINAL.value, ResultStatusCode.CORRECTED.value})
CANCELLING = frozenset({
    ResultStatusCode.CANNOT_OBTAIN.value, ResultStatusCode.DELETED.value,
    ResultStatusCode.POSTED_AS_WRONG.value,
})  # fmt: skip
KNOWN_STATUSES = EMITTED | CANCELLING | {ResultStatusCode.PRELIMINARY.value}
NEEDS_EARLIER_RESULT = CANCELLING | {ResultStatusCode.CORRECTED.value}
# not final: entered, not verified (R); partial (S)
READ_AS_PRELIMINARY: Final = frozenset({"R", "S"})
# no result: specimen in lab, results pending (I); order detail only (O); not asked (N)
NO_RESULT: Final = frozenset({"I", "O", "N"})
# "results status change to final without retransmitting results already sent as
# preliminary": a status change the platform does not apply (only values it receives)
FINAL_WITHOUT_VALUES: Final = "U"


def status_of(observation: ObservationInput) -> str:
    """The status the platform reads an observation's as: its OBX-11 code (FHIR's mapped
    onto one), ``R`` and ``S`` read as ``P``."""
    status = observation.status.strip().upper()
    return ResultStatusCode.PRELIMINARY.value if status in READ_AS_PRELIMINARY else status


def carries_a_result(observation: ObservationInput) -> bool:
    """Whether the observation holds a result at all (``NO_RESULT``: no value, left out as
    another test's observation is: nothing of it is checked, stored or published)."""
    return status_of(observation) not in NO_RESULT


def cancellations_asked(message: LabMessage) -> int:
    """How many of the message's trial results ask to withdraw one (``CANCELLING``; FHIR and
    JSON statuses read as these), as the lab sent them, whether or not they find anything:
    a cancellation that withdrew nothing is told as such (``cachexia message show``)."""
    return sum(
        1
        for o in message.observations
        if status_of(o) in CANCELLING and identify_analyte(o.codes) is not None
    )
