"""Whether two collection times written by a laboratory say the same (pure: no I/O).

HL7 writes a time to the precision the sender knows it (``20261120``: a day;
``202611200815``: a minute) with or without a UTC offset: it names a span of time (the
day, the minute), where it is written. Two times agree when their spans overlap: when,
to the precision written, they can be one time. ``20261120`` and ``20261120081500+0100``
agree (the same day where the date is written); ``202611200815+0100`` and
``20261120071530+0000`` agree (that minute); ``20261120101500+0100`` and
``20261120071500+0100`` do not. A time without an offset is compared with one with an
offset as read in that offset (its wall clock), and in the message's default offset
(MSH-7's) too when there is one: it must agree in every reading. Two without one are both
in the sender's zone: compared as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DATE_DIGITS = 8  # YYYYMMDD
HOUR_DIGITS = 10  # YYYYMMDDHH: the coarsest time the service places a sample by


@dataclass(frozen=True)
class WrittenTime:
    """A time as written: its fields (those not written are their first value), how many
    digits were written (8 a date, 10 an hour, 12 a minute, 14 a second, 15-18 a fraction),
    and its UTC offset (None: written without one)."""

    written: datetime
    digits: int
    offset: timedelta | None


def agree(first: WrittenTime, second: WrittenTime, default: timedelta | None = None) -> bool:
    """Whether the two times can be one: the spans they write overlap (module docstring)."""
    return _not_before(first, second, default) and _not_before(second, first, default)


def within(
    time: WrittenTime,
    start: WrittenTime | None,
    end: WrittenTime | None,
    default: timedelta | None = None,
) -> bool:
    """Whether ``time`` can lie from ``start`` to ``end`` (None: open on that side), each to
    the precision written: a FHIR ``effectivePeriod``. With ``start`` and ``end`` one time,
    whether ``time`` agrees with it (``agree``)."""
    return (start is None or _not_before(time, start, default)) and (
        end is None or _not_before(end, time, default)
    )


def _not_before(first: WrittenTime, second: WrittenTime, default: timedelta | None) -> bool:
    """Whether the span ``first`` writes ends after the one ``second`` writes starts, in
    every reading of their offsets."""
    return all(
        _span(first, a)[1] > _span(second, b)[0] for a, b in _readings(first, second, default)
    )


def _readings(
    first: WrittenTime, second: WrittenTime, default: timedelta | None
) -> list[tuple[timedelta, timedelta]]:
    """The offsets the two are read at: their own; a time without one in the other's (and
    in the default offset, when there is one); two without one as written."""
    if first.offset is not None and second.offset is not None:
        return [(first.offset, second.offset)]
    if first.offset is None and second.offset is None:
        return [(timedelta(0), timedelta(0))]  # both in the sender's zone: as written
    known = first.offset if first.offset is not None else second.offset
    assert known is not None
    return [
        (first.offset if first.offset is not None else o,
         second.offset if second.offset is not None else o)
        for o in (known, *([default] if default is not None else []))
    ]  # fmt: skip


def _span(time: WrittenTime, offset: timedelta) -> tuple[datetime, datetime]:
    """The span of UTC time (naive) a time written to its precision at ``offset`` names:
    ``20261120+0100`` the 20th from 23:00 on the 19th; ``202611200815`` a minute."""
    start = time.written - offset
    digits = time.digits
    if digits <= 4:
        end = time.written.replace(year=time.written.year + 1) - offset
    elif digits <= 6:
        month = time.written.month % 12 + 1
        year = time.written.year + (time.written.month == 12)
        end = time.written.replace(year=year, month=month) - offset
    else:
        end = start + _UNITS.get(digits, timedelta(microseconds=10 ** (6 - min(digits - 14, 6))))
    return start, end


_UNITS = {
    DATE_DIGITS: timedelta(days=1), HOUR_DIGITS: timedelta(hours=1),
    12: timedelta(minutes=1), 14: timedelta(seconds=1),
}  # fmt: skip
