"""The collection-time agreement rule (``collection_times.agree``) and which time an HL7
result takes (``hl7_collection``): OBX-14, OBR-7, the specimen's SPM-17 (review 119)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_collection import collection_time
from services.lab_ingestion.adapters.hl7_order import NO_ORDER, Order
from services.lab_ingestion.adapters.hl7_time import read_ts, written_time
from services.lab_ingestion.domain.collection_times import WrittenTime, agree, within

PLUS_ONE = timedelta(hours=1)


def w(text: str) -> WrittenTime:
    written = written_time(text)
    assert written is not None, text
    return written


def order(t7: str) -> Order:
    return Order("ORD1", t7, read_ts(t7, "+0100"), None)


def test_precision_and_offsets_written() -> None:
    assert w("20261120") == WrittenTime(datetime(2026, 11, 20), 8, None)
    assert w("202611200815+0100").digits == 12 and w("202611200815+0100").offset == PLUS_ONE
    assert w("20261120081500.25-0500").digits == 16
    assert written_time("202611") is None  # a month is no day
    assert written_time("20261120081500+1500") is None  # beyond +14:00


def test_a_time_within_a_period_to_the_precision_written() -> None:
    """A FHIR DiagnosticReport.effectivePeriod (review 131): open where a bound is not
    given; one time as both bounds is ``agree``."""
    start, end = w("20261120070000+0100"), w("20261120090000+0100")
    assert within(w("20261120080000+0100"), start, end)
    assert within(w("20261120070000+0100"), start, end)
    assert not within(w("20261120090001+0100"), start, end)
    assert not within(w("20261120065959+0100"), start, end)
    assert within(w("20261120"), start, end) and within(w("20261120"), None, None)
    assert within(w("20261121100000+0100"), start, None)
    assert not within(w("20261121100000+0100"), None, end)
    assert within(w("20261120"), w("20261120081500+0100"), w("20261120081500+0100"))


def test_times_agree_at_the_coarser_precision() -> None:
    assert agree(w("20261120"), w("20261120081500+0100"))
    assert agree(w("202611200815+0100"), w("20261120071530+0000"))
    assert not agree(w("20261120101500+0100"), w("20261120071500+0100"))
    assert not agree(w("20261119"), w("20261120081500+0100"))
    # the date where it is written: 00:30+01 is the 20th there, the 19th in UTC
    assert agree(w("20261120+0100"), w("20261119233000+0000"))
    assert not agree(w("20261120+0000"), w("20261119233000+0000"))


def test_a_local_time_must_agree_in_every_reading() -> None:
    # in the other's offset (its wall clock) and in MSH-7's
    assert agree(w("20261120081500"), w("20261120081500+0100"), PLUS_ONE)
    assert not agree(w("20261120081500"), w("20261120081500+0100"), timedelta(0))
    assert agree(w("20261120081500"), w("20261120081500"))  # both in the sender's zone


offsets = st.integers(-14 * 4, 14 * 4).map(lambda q: timedelta(minutes=15 * q))
instants = st.datetimes(datetime(2001, 1, 1), datetime(2090, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)
digits = st.sampled_from([8, 10, 12, 14, 15, 16, 17, 18])


def written_at(instant: datetime, offset: timedelta, precision: int) -> str:
    local = (instant + offset).replace(tzinfo=None)
    text = local.strftime("%Y%m%d%H%M%S")[: min(precision, 14)]
    if precision > 14:
        text += "." + f"{local.microsecond:06d}"[: precision - 14]
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"{text}{sign}{minutes // 60:02d}{minutes % 60:02d}"


@given(instants, offsets, offsets, digits, digits)
def test_one_instant_written_anyhow_agrees_with_itself(
    instant: datetime, first: timedelta, second: timedelta, p: int, q: int
) -> None:
    assert agree(w(written_at(instant, first, p)), w(written_at(instant, second, q)))


@given(instants, offsets, offsets, st.integers(61, 10**6))
def test_exact_times_a_minute_apart_or_more_disagree(
    instant: datetime, first: timedelta, second: timedelta, apart: int
) -> None:
    later = instant + timedelta(seconds=apart)
    assert not agree(w(written_at(instant, first, 14)), w(written_at(later, second, 14)))


@given(instants, offsets, offsets, digits, digits)
def test_agreement_is_symmetric(
    instant: datetime, first: timedelta, second: timedelta, p: int, q: int
) -> None:
    a, b = w(written_at(instant, first, p)), w(written_at(instant + PLUS_ONE, second, q))
    assert agree(a, b) == agree(b, a)


def test_obx14_is_taken_and_checked_against_spm17() -> None:
    text, (at, _), conflict = collection_time(
        "20261120081500+0100", order("20261120060000+0100"), ("20261120081500+0100",), ""
    )  # OBX-14 over OBR-7 as before: SPM-17 agrees
    assert (text, at, conflict) == (
        "20261120081500+0100",
        datetime(2026, 11, 20, 7, 15, tzinfo=UTC),
        None,
    )
    _, _, conflict = collection_time(
        "20261120101500+0100", order("20261120071500+0100"), ("20261120071500+0100",), ""
    )
    assert conflict is not None and "OBX-14" in conflict and "SPM-17" in conflict


def test_one_specimen_of_several_agreeing_is_enough() -> None:
    specimens = ("20261120071500+0100", "20261120081500+0100")
    _, _, conflict = collection_time("20261120081500+0100", NO_ORDER, specimens, "")
    assert conflict is None


def test_spm17_alone_only_when_the_specimens_agree() -> None:
    text, (at, _), conflict = collection_time("", order(""), ("202611200815+0100",), "")
    assert (text, conflict) == ("202611200815+0100", None) and at is not None
    _, (at, _), conflict = collection_time(
        "", order(""), ("20261120081500+0100", "20261120091500+0100"), ""
    )
    assert at is None and conflict is not None and "SPM-17" in conflict


def test_a_date_in_obx14_gives_way_to_a_time_of_that_day() -> None:
    text, (at, _), conflict = collection_time("20261120", order("20261120081500+0100"), (), "")
    assert (text, conflict) == ("20261120081500+0100", None) and at is not None
    _, _, conflict = collection_time("20261119", order("20261120081500+0100"), (), "")
    assert conflict is not None and "OBX-14" in conflict and "OBR-7" in conflict
    text, _, conflict = collection_time("20261120", order(""), ("20261120081500+0100",), "")
    assert (text, conflict) == ("20261120081500+0100", None)


def test_an_unusable_obx14_is_still_no_licence_to_take_obr7() -> None:
    _, (at, local), conflict = collection_time("2026112X", order("20261120081500+0100"), (), "")
    assert (at, local, conflict) == (None, None, None)


def test_an_unreadable_spm17_shows_nothing_wrong() -> None:
    text, _, conflict = collection_time("", order("20261120081500+0100"), ("?",), "")
    assert (text, conflict) == ("20261120081500+0100", None)
