"""current_series: the CRP values that stand for one subject."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.crp_monitor.domain.model import CrpMeasurement, current_series
from shared.contracts.events.lab import Comparator

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def measurement(
    hours: float,
    value: float = 10.0,
    *,
    supersedes: uuid.UUID | None = None,
    cancelled: bool = False,
    result_id: uuid.UUID | None = None,
    comparator: Comparator | None = None,
    received_seq: int | None = None,
) -> CrpMeasurement:
    return CrpMeasurement(
        result_id=result_id or uuid.uuid4(),
        subject_id="S-0001",
        value_mg_l=value,
        collected_at=T0 + timedelta(hours=hours),
        status="corrected" if supersedes else "final",
        supersedes_result_id=supersedes,
        cancelled=cancelled,
        comparator=comparator,
        received_seq=received_seq,
    )


def test_empty_series() -> None:
    assert current_series([]) == []


def test_series_is_sorted_by_collection_time() -> None:
    late, early, middle = measurement(48, 30.0), measurement(0, 10.0), measurement(24, 20.0)
    assert current_series([late, early, middle]) == [early, middle, late]


def test_a_correction_replaces_the_superseded_result() -> None:
    original = measurement(0, 100.0)
    other = measurement(24, 12.0)
    correction = measurement(0, 10.0, supersedes=original.result_id)
    series = current_series([original, other, correction])
    assert series == [correction, other]
    assert original not in series


def test_a_sample_collected_after_the_withdrawal_stands_in_no_series() -> None:
    """Review 63: lab-ingestion published it before it read the withdrawal; it is no trial
    result. A correction of an earlier sample, received later, still stands."""
    before = measurement(0, 80.0)
    after = measurement(30, 5.0)
    correction = measurement(0, 70.0, supersedes=before.result_id)
    withdrawn_at = T0 + timedelta(hours=24)
    assert current_series([before, after], withdrawn_at) == [before]
    assert current_series([before, after, correction], withdrawn_at) == [correction]
    assert current_series([before, after], T0 + timedelta(hours=30)) == [before, after]
    assert current_series([before, after]) == [before, after]


def test_a_correction_arriving_first_still_wins() -> None:
    original = measurement(0, 100.0)
    correction = measurement(0, 10.0, supersedes=original.result_id)
    assert current_series([correction, original]) == [correction]


def test_a_chain_of_corrections_keeps_only_the_last() -> None:
    first = measurement(0, 100.0)
    second = measurement(0, 50.0, supersedes=first.result_id)
    third = measurement(0, 10.0, supersedes=second.result_id)
    assert current_series([third, first, second]) == [third]


def test_cancelled_results_are_excluded() -> None:
    kept, cancelled = measurement(0), measurement(12, cancelled=True)
    assert current_series([cancelled, kept]) == [kept]


def test_all_cancelled_gives_an_empty_series() -> None:
    assert current_series([measurement(0, cancelled=True), measurement(1, cancelled=True)]) == []


def test_values_of_one_sample_are_in_the_order_received_whatever_their_ids() -> None:
    """Review 274: ordered by result id (a random uuid4), "the newest" of one sample's values
    was drawn by chance: 9 mg/L and 80 mg/L flipped between response and non-response."""
    first = measurement(0, 80.0, result_id=uuid.UUID(int=2), received_seq=7)
    rerun = measurement(0, 9.0, result_id=uuid.UUID(int=1), received_seq=8)
    assert current_series([rerun, first]) == current_series([first, rerun]) == [first, rerun]


def test_collection_time_comes_before_arrival() -> None:
    received_last = measurement(0, 50.0, received_seq=9)
    later_sample = measurement(24, 20.0, received_seq=1)
    assert current_series([later_sample, received_last]) == [received_last, later_sample]


def test_one_not_stored_yet_comes_after_the_stored_values_of_its_sample() -> None:
    """No received_seq: not stored yet, so received after every stored one; several such keep
    the order given."""
    stored = measurement(0, 80.0, received_seq=3)
    new, newer = measurement(0, 9.0), measurement(0, 30.0)
    assert current_series([new, stored, newer]) == [stored, new, newer]


def test_input_is_not_modified() -> None:
    items = [measurement(5), measurement(1, cancelled=True), measurement(3)]
    snapshot = list(items)
    current_series(items)
    assert items == snapshot


# --- property ---------------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> list[CrpMeasurement]:
    count = draw(st.integers(min_value=0, max_value=12))
    ids = [uuid.UUID(int=i + 1) for i in range(count)]
    # stored in any order (a correction can be read before the result it names)
    arrival = draw(st.permutations(range(1, count + 1)))
    items: list[CrpMeasurement] = []
    for i, result_id in enumerate(ids):
        supersedes = draw(st.none() | st.sampled_from(ids[:i])) if i else None
        items.append(
            measurement(
                draw(st.integers(min_value=0, max_value=20 * 24)),
                draw(st.floats(min_value=0, max_value=500)),
                supersedes=supersedes,
                cancelled=draw(st.booleans()),
                result_id=result_id,
                # a censored value (a limit) is a result like any other in the series
                comparator=draw(st.none() | st.sampled_from(Comparator)),
                received_seq=arrival[i],
            )
        )
    return draw(st.permutations(items))


@given(histories())
def test_series_never_holds_a_cancelled_or_superseded_value_and_is_sorted(
    items: list[CrpMeasurement],
) -> None:
    series = current_series(items)
    superseded = {m.supersedes_result_id for m in items if m.supersedes_result_id is not None}

    assert not any(m.cancelled for m in series)
    assert not any(m.result_id in superseded for m in series)
    times = [m.collected_at for m in series]
    assert times == sorted(times)
    # nothing that stands is lost, and nothing is duplicated
    standing = [m for m in items if not m.cancelled and m.result_id not in superseded]
    assert sorted(series, key=lambda m: m.result_id) == sorted(standing, key=lambda m: m.result_id)
    assert len({m.result_id for m in series}) == len(series)


@given(histories())
def test_series_does_not_depend_on_the_order_given(items: list[CrpMeasurement]) -> None:
    assert current_series(items) == current_series(list(reversed(items)))


@st.composite
def samples(draw: st.DrawFn) -> list[CrpMeasurement]:
    """Stored values with any ids, a few collection times (many ties), each its own number."""
    count = draw(st.integers(min_value=0, max_value=12))
    ids = draw(st.lists(st.uuids(), min_size=count, max_size=count, unique=True))
    numbers = draw(
        st.lists(st.integers(min_value=1, max_value=2**62), min_size=count, max_size=count,
                 unique=True)
    )  # fmt: skip
    items = [
        measurement(draw(st.sampled_from([0, 0.5, 24])), float(i), result_id=result_id,
                    received_seq=number)
        for i, (result_id, number) in enumerate(zip(ids, numbers, strict=True))
    ]  # fmt: skip
    return draw(st.permutations(items))


@given(samples())
def test_series_is_by_collection_time_then_arrival_whatever_the_ids(
    items: list[CrpMeasurement],
) -> None:
    series = current_series(items)
    assert [(m.collected_at, m.received_seq) for m in series] == sorted(
        (m.collected_at, m.received_seq) for m in items
    )
