"""What an OBR (and the ORC opening its order) gives the results that follow it: the order
number, the order's time, and the time its results were released."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import hl7

from services.lab_ingestion.adapters.hl7_escapes import UnreadableEscape
from services.lab_ingestion.adapters.hl7_fields import field_value
from services.lab_ingestion.adapters.hl7_time import read_ts
from services.lab_ingestion.domain.model import OrderCancelled
from services.lab_ingestion.domain.order_status import cancelled_order

Time = tuple[datetime | None, datetime | None]  # instant, and local time as written (read_ts)


class Order(NamedTuple):
    """An OBR's order number (filler, else placer), its time (OBR-7) as written and as
    read, why a trial result cannot take those two (an escape the strict reading refuses:
    ``ORD\\Q\\1`` would be the key of order ORD1's results, a time read through a dropped
    escape another time; so would ``ORD1&2``, an EI-1 or a time written with sub-components,
    read as its first; another test's result reads them as before), and its results'
    report time (OBR-22) as written and as read (``report_time``)."""

    key: str
    text: str
    time: Time
    unreadable: str | None
    reported_text: str = ""
    reported: Time = (None, None)
    # the order number is the ORC's (OBR-2 and OBR-3 empty): results of such an order were
    # keyed by their collection time before review 119 (``hl7_observation``: legacy keys)
    from_orc: bool = False
    # OBR-25 (result status of the order, HL7 table 0123), as written (upper case); which
    # OBR of the message this is (1-based); what says it is cancelled as a whole, if
    # anything (``placed``: ``order_status``)
    status: str = ""
    sequence: int = 0
    cancelled: OrderCancelled | None = None


NO_ORDER = Order("", "", (None, None), None)


def order_of(obr: hl7.Segment, offset: str, orc: hl7.Segment | None = None) -> Order:
    """The order number: OBR-3 (filler), else OBR-2 (placer), else, both empty, the ORC's
    that opens the order (``orc``: the ORC right before the OBR), ORC-3 else ORC-2, as HL7
    allows (an order number may be given in ORC alone); each read strictly and as one value
    (an escape dropped or a sub-component ``&`` would make it another order's number).

    OBR-22 (Results Rpt/Status Chng - Date/Time, in every version from 2.3 to 2.5.1) is
    when the results were released: what FHIR's ``Observation.issued`` and JSON's
    ``reported_at`` say (the v2-to-FHIR mapping takes ``issued`` from it). A time without
    an offset is read as OBR-7's is (``offset``, then the sender's zone); one that cannot
    be read, an escape in it too, is no time: a report time refuses no result.

    OBR-25 (the order's result status) is read as written (``placed`` reads what it says)."""
    segments = (obr,) if orc is None else (obr, orc)
    try:
        key = _order_number(segments, strict=True)
        text = field_value(obr, 7, strict=True, single=True)
        unreadable = None
    except UnreadableEscape as exc:
        key = _order_number(segments, strict=False)
        text = field_value(obr, 7)
        unreadable = str(exc)
    from_orc = bool(key) and not _order_number((obr,), strict=False)
    reported_text, reported = report_time(obr, 22, offset)
    return Order(
        key, text, read_ts(text, offset), unreadable, reported_text, reported, from_orc=from_orc,
        status=field_value(obr, 25).strip().upper(),
    )  # fmt: skip


def _order_number(segments: tuple[hl7.Segment, ...], *, strict: bool) -> str:
    """The first order number of the segments (OBR, then ORC): field 3 (filler), else 2."""
    for segment in segments:
        for field in (3, 2):
            if number := field_value(segment, field, strict=strict, single=strict):
                return number
    return ""


def report_time(segment: hl7.Segment, field: int, offset: str) -> tuple[str, Time]:
    """A report time (OBR-22, OBX-19) as written and as read (``read_ts``); one holding an
    escape the strict reading refuses (``\\Q\\``), or written with sub-components
    (``20261120&0815``: a TS field has none, and its first part is another time; review
    179), is written but no time: never read through the dropped escape or by a part as
    another time, and never refusing the result."""
    try:
        text = field_value(segment, field, strict=True, single=True)
    except UnreadableEscape:
        return field_value(segment, field) or "?", (None, None)
    return text, read_ts(text, offset)


def placed(order: Order, sequence: int, orc: hl7.Segment | None, opening: int) -> Order:
    """``order`` as the message's ``sequence``-th OBR (1-based), opened by ``orc`` (the
    ``opening``-th ORC of the message) or by none, knowing whether it is cancelled as a
    whole (``order_status.cancelled_order``): ORC-1 is read only when OBR-25 is empty."""
    control = field_value(orc, 1) if orc is not None and not order.status else ""
    cancelled = cancelled_order(order.status, control, sequence, None if orc is None else opening)
    return order._replace(sequence=sequence, cancelled=cancelled)


def cancelled_without_results(
    orders: list[Order], results: list[tuple[int, hl7.Segment]]
) -> OrderCancelled | None:
    """The first order (OBR) cancelled as a whole with no OBX under it (``placed``)."""
    with_results = {at for at, _ in results}
    for at, order in enumerate(orders):
        if order.cancelled is not None and at not in with_results:
            return order.cancelled
    return None
