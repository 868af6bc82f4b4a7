"""An HL7 order's own status, where it says what no result's does (pure: no I/O; review 133).

OBR-25 (result status of the order, HL7 table 0123) and ORC-1 (order control, table 0119)
speak of the whole order: OBR-25 X (no results available, order cancelled) or D (deleted),
and, OBR-25 empty, ORC-1 CA, OC, CR (cancelled). Never ORC-1 DC, OD, DR (discontinued: work
on the order stopped, and what was reported before stays valid; review 135). Results are
withdrawn one by one (OBX-11 X, D, W: a result's key is a keyed hash of ``order|test|sub-id``,
so an order's stored results cannot be found by the order alone), and what an order's status
says is never applied to them; two cases are refused instead (``unknown-result-status``, ERR
at OBR-25, or ORC-1 when only it says so), the message kept:

- an order cancelled as a whole with no OBX under it, in a message holding no trial result
  at all (``cancelled_order_refusal``): answered "no result of a trial analyte", the lab
  would take it for of no interest while the result stored under the order keeps standing;
  the lab is told to send each result's cancellation. A message holding another test's
  results under such an order is what it was;
- a trial result holding a value (OBX-11 F, C, P) under an order cancelled as a whole:
  which of the two is right cannot be told (``order_contradicts``).

OBR-25 P over OBX-11 F, or F over P, is common (the order's status lags its results'): the
result's status is read, as it is when the order says nothing. A replay of such a rejection
is refused as it would be rejected again, until the laboratory's message is fixed.
"""

from __future__ import annotations

from typing import Final

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    OrderCancelled,
    Place,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.result_status import EMITTED

_CANCELLED = "order cancelled"
# OBR-25 of an order cancelled (X: no results available, order cancelled) or deleted (D)
CANCELLED_STATUSES: Final = {"X": _CANCELLED, "D": "order deleted"}
# ORC-1 of an order cancelled, requested (CA) or done (OC, CR)
CANCELLING_CONTROLS: Final = {"CA": _CANCELLED, "OC": _CANCELLED, "CR": _CANCELLED}
# result statuses holding a value (R and S are read as P: ``result_status.status_of``)
_HOLDING_A_VALUE: Final = EMITTED | {ResultStatusCode.PRELIMINARY.value}


def cancelled_order(
    status: str, control: str, order: int, opening: int | None
) -> OrderCancelled | None:
    """What says an order is cancelled as a whole: its OBR-25 (``status``, of the message's
    ``order``-th OBR) X or D, else, OBR-25 empty, ORC-1 (``control``, of the message's
    ``opening``-th ORC, the one opening the order) cancelling it; None when neither does."""
    status, control = status.strip().upper(), control.strip().upper()
    if status in CANCELLED_STATUSES:
        return OrderCancelled(
            f"OBR-25 {status}", CANCELLED_STATUSES[status], Place("OBR", order, 25)
        )
    if not status and opening is not None and control in CANCELLING_CONTROLS:
        return OrderCancelled(
            f"ORC-1 {control}", CANCELLING_CONTROLS[control], Place("ORC", opening, 1)
        )
    return None


def cancelled_order_refusal(message: LabMessage) -> Rejected | None:
    """Why a message holding no trial result but an order cancelled as a whole with nothing
    under it is refused; None when it holds none, or any trial result (even one pending)."""
    cancelled = message.cancelled_order
    if cancelled is None or any(
        identify_analyte(o.codes) is not None for o in message.observations
    ):
        return None
    return Rejected(
        RejectionCode.UNKNOWN_STATUS,
        f"order cancelled as a whole ({cancelled.said}) not applied: send OBX-11 X or D per result",
        place=cancelled.place,
    )


def order_contradicts(observation: ObservationInput, status: str) -> Rejected | None:
    """Why a trial result of ``status`` (as read) holding a value cannot be taken under an
    order cancelled as a whole; None when its order says no such thing."""
    cancelled = observation.order_cancelled
    if cancelled is None or status not in _HOLDING_A_VALUE:
        return None
    written = observation.status.strip().upper()
    return Rejected(
        RejectionCode.UNKNOWN_STATUS,
        f"{cancelled.said} ({cancelled.meaning}) contradicts OBX-11 {written}: "
        "which is right cannot be told",
        place=cancelled.place,
    )
