"""Which time a result's sample was collected at: OBX-14, else OBR-7, else the order's
specimen's SPM-17 (v2.5.1's SPECIMEN group: LRI and ELR write the collection time there,
OBR-7 equal to SPM-17.1, and may leave OBR-7 empty), checked against SPM-17 (review 119).

- OBX-14 when written, never replaced by OBR-7; one written as a date alone
  (``20261120``, no time to place a sample by) gives way to OBR-7 (else SPM-17) when they
  agree (the same day where the date is written), and refuses the result when they do not;
- the time taken must agree with the order's SPM-17.1 (with one of them: which specimen a
  result is of is not written) at the coarser of the two precisions (``collection_times``):
  a sample is not drawn at two times, so when they disagree the result is refused, with a
  reason naming the fields, rather than one of them picked;
- SPM-17.1 alone places a sample only when the order's specimens agree on it.

An SPM-17 that cannot be read (an escape, no time) shows nothing wrong, and places nothing.
"""

from __future__ import annotations

from datetime import timedelta

import hl7

from services.lab_ingestion.adapters.hl7_escapes import UnreadableEscape
from services.lab_ingestion.adapters.hl7_fields import field_value
from services.lab_ingestion.adapters.hl7_order import Order, Time
from services.lab_ingestion.adapters.hl7_time import offset_delta, read_ts, written_time
from services.lab_ingestion.domain.collection_times import (
    DATE_DIGITS,
    HOUR_DIGITS,
    WrittenTime,
    agree,
)

NO_TIME: Time = (None, None)


def specimen_time(spm: hl7.Segment) -> str:
    """SPM-17.1 (the range's start: DR.1, its first sub-component where a TS is written
    with its precision), read strictly: "?" (no time) when an escape it holds cannot be."""
    try:
        return field_value(spm, 17, strict=True)
    except UnreadableEscape:
        return "?"


def collection_time(
    obx14: str, order: Order, specimens: tuple[str, ...], offset: str
) -> tuple[str, Time, str | None]:
    """The collection time as written and as read (``read_ts``), and why the result is
    refused when the times written disagree (None: they do not)."""
    default = offset_delta(offset) if offset else None
    spm = [(t, w) for t in specimens if (w := written_time(t)) is not None]
    if obx14:
        text, time = obx14, read_ts(obx14, offset)
        dated = written_time(obx14)
        if time == NO_TIME and dated is not None and dated.digits == DATE_DIGITS:
            others = [
                (name, t, w)
                for name, t, w in [("OBR-7", order.text, written_time(order.text)),
                                   *(("SPM-17", t, w) for t, w in spm)]
                if w is not None and w.digits >= HOUR_DIGITS
            ]  # fmt: skip
            wrong = [name for name, _, w in others if not agree(dated, w, default)]
            if wrong:
                return (
                    text,
                    time,
                    (
                        f"the collection date in OBX-14 is not the day of {wrong[0]}'s collection "
                        "time: which is right cannot be told"
                    ),
                )
            if others:
                text = others[0][1]
                time = read_ts(text, offset)
    elif order.text:
        text, time = order.text, order.time
    else:
        return _of_specimens(spm, offset, default)
    return text, time, _disagreement(text, "OBX-14" if obx14 == text else "OBR-7", spm, default)


def _of_specimens(
    spm: list[tuple[str, WrittenTime]], offset: str, default: timedelta | None
) -> tuple[str, Time, str | None]:
    """SPM-17.1 alone: the most precise of the order's specimens' times when all agree."""
    if not spm:
        return "", NO_TIME, None
    for index, (_, first) in enumerate(spm):
        for _, second in spm[index + 1 :]:
            if not agree(first, second, default):
                return (
                    "",
                    NO_TIME,
                    (
                        "the order's specimens (SPM-17) were collected at different times and "
                        "OBX-14 and OBR-7 are empty: which is the result's cannot be told"
                    ),
                )
    text = max(spm, key=lambda item: item[1].digits)[0]
    return text, read_ts(text, offset), None


def _disagreement(
    text: str, field: str, spm: list[tuple[str, WrittenTime]], default: timedelta | None
) -> str | None:
    taken = written_time(text)
    if taken is None or not spm:
        return None
    if any(agree(taken, w, default) for _, w in spm):
        return None
    return (
        f"the collection time in {field} is not the specimen's (SPM-17) beyond the precision "
        "written: which is right cannot be told"
    )
