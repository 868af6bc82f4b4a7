"""HL7 v2 times (DTM): to aware UTC datetimes, naive local times, and result-key times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from services.lab_ingestion.domain.collection_times import DATE_DIGITS, WrittenTime
from services.lab_ingestion.domain.sample_times import MAX_UTC_OFFSET

# YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], nested as the standard writes it: a
# fraction only after the seconds (no decimal hour or minute: 2026112008.5 is no time)
_TS = re.compile(
    r"^([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})"
    r"(?:([0-9]{2})(?:\.([0-9]{1,4}))?)?)?)?)?)?([+-][0-9]{4})?$"
)
_OFFSET = re.compile(r"[+-][0-9]{4}")


def key_time(text: str, instant: datetime | None, local: datetime | None) -> str:
    """The time in a result key (of a result without an order number): one sample whose
    time is written differently is one key. A time with its offset is its instant (another
    offset, the same key); one without is the local time as written, in full (``202611200700``
    and ``20261120070000`` are one time), not read in an offset: one taken from MSH-7 changes
    with the message (a resend across a clock change), the time as written does not. An
    unusable time stays as written (the result is rejected for it)."""
    if local is not None:
        return local_key(local)
    if instant is not None:
        return instant.isoformat()
    return text


def local_key(local: datetime) -> str:
    """``YYYYMMDDHHMMSS[.S...]``, the fraction without trailing zeros (migration 0014 writes
    stored keys so)."""
    fraction = f".{local.microsecond:06d}".rstrip("0") if local.microsecond else ""
    return (
        f"{local.year:04d}{local.month:02d}{local.day:02d}"
        f"{local.hour:02d}{local.minute:02d}{local.second:02d}{fraction}"
    )


def offset_of(value: str) -> str:
    """The UTC offset of an HL7 time (``+0100``), or "" if it has none."""
    match = _TS.match(value)
    return (match.group(8) or "") if match else ""


def parse_local(value: str) -> datetime | None:
    """An HL7 DTM written without a UTC offset, as a naive local time (None otherwise)."""
    return read_ts(value)[1]


def parse_ts(value: str, default_offset: str = "") -> datetime | None:
    """An HL7 DTM (YYYYMMDDHH[MM[SS[.S]]][+/-ZZZZ]) to an aware datetime in UTC.

    A time without an offset is in the sender's time zone (``default_offset``, the offset of
    MSH-7); without either it is ambiguous and therefore unusable (None), as is a date alone
    or a month or day 00: a collection time must be exact for the 72-hour CRP window.
    """
    return read_ts(value, default_offset)[0]


def read_ts(value: str, default_offset: str = "") -> tuple[datetime | None, datetime | None]:
    """``parse_ts`` and ``parse_local`` of one HL7 DTM, read once: its instant (a time
    without an offset in ``default_offset``), and the naive local time as written when it
    has no offset, for the service to read in the sender's configured zone (None when it
    has one, or is unusable)."""
    match = _TS.match(value.strip())
    if not match or match.group(4) is None:
        return None, None
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    fraction = match.group(7) or "0"
    try:
        written = datetime(year, month, day, hour, minute, second, int(fraction.ljust(6, "0")[:6]))
    except ValueError:
        return None, None
    offset = match.group(8)
    if offset is not None:
        return _instant(written, offset), None
    if not _OFFSET.fullmatch(default_offset):
        return None, written
    return _instant(written, default_offset), written


def _instant(written: datetime, offset: str) -> datetime | None:
    """A time as written at a UTC offset (``+0100``), in UTC; None (unusable, as a month 13
    is) for an offset beyond +/-14:00 (``MAX_UTC_OFFSET``: ``+1459`` was read, 15 hours off;
    JSON and FHIR refuse it too) or with minutes beyond 59."""
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[3:5])
    shift = timedelta(hours=hours, minutes=minutes)
    if minutes > 59 or shift > MAX_UTC_OFFSET:
        return None
    local = written.replace(tzinfo=timezone(sign * shift))
    try:
        return local.astimezone(UTC)
    except OverflowError:  # year 1 or 9999: kept as written, the plausibility check rejects it
        return local


def written_time(value: str) -> WrittenTime | None:
    """An HL7 DTM written to a day's precision at least, as written (``collection_times``),
    with its offset; None when it is no such time (a month alone, a month 13, an offset
    beyond +/-14:00 or with minutes beyond 59)."""
    match = _TS.match(value.strip())
    if not match or match.group(3) is None:
        return None
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    fraction = match.group(7) or ""
    try:
        written = datetime(
            year, month, day, hour, minute, second, int(fraction.ljust(6, "0")[:6] or 0)
        )
    except ValueError:
        return None
    digits = DATE_DIGITS + 2 * sum(1 for g in match.groups()[3:6] if g is not None)
    digits += len(fraction)
    offset = match.group(8)
    if offset is None:
        return WrittenTime(written, digits, None)
    delta = offset_delta(offset)
    return None if delta is None else WrittenTime(written, digits, delta)


def offset_delta(offset: str) -> timedelta | None:
    """``+0100`` as a timedelta; None when it is no offset or beyond ``MAX_UTC_OFFSET``."""
    if not _OFFSET.fullmatch(offset):
        return None
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[3:5])
    shift = timedelta(hours=hours, minutes=minutes)
    return None if minutes > 59 or shift > MAX_UTC_OFFSET else sign * shift
