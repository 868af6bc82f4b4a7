"""The rules of ``mllp_watch.FrameWatch`` on a clock the test moves: a frame is cut once no
data came for the stall period, or once its first byte is the deadline old however much
comes; between frames, and once a frame was answered, nothing is timed."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.entrypoints.mllp_watch import (
    SWEEP_MAX_SECONDS,
    FrameWatch,
    sweep_interval,
)

STALL, DEADLINE = 60.0, 300.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watching() -> tuple[FrameWatch, Clock, asyncio.Task[None]]:
    clock = Clock()
    watch = FrameWatch(STALL, DEADLINE, clock)
    task: asyncio.Task[None] = object()  # type: ignore[assignment]  # only a key
    watch.watch(task)
    return watch, clock, task


def test_the_sweep_looks_every_few_seconds_at_most() -> None:
    assert sweep_interval(60, 300) == SWEEP_MAX_SECONDS == 5
    assert sweep_interval(1.0, 4.0) == 0.25


def test_an_idle_connection_between_frames_is_never_cut() -> None:
    watch, clock, task = watching()
    clock.now += 10 * DEADLINE
    assert watch.overdue(task, begun=False) is None
    assert watch.cut(task) is None


def test_a_frame_not_continued_for_the_stall_period_is_cut() -> None:
    watch, clock, task = watching()
    watch.on_data(task, lambda: True)
    clock.now += STALL - 0.01
    assert watch.overdue(task, begun=True) is None
    clock.now += 0.01
    reason = "MLLP frame not continued for 60 s (connection closed)"
    assert watch.overdue(task, begun=True) == reason == watch.cut(task)


def test_a_frame_answered_restarts_the_clocks() -> None:
    watch, clock, task = watching()
    watch.on_data(task, lambda: True)
    clock.now += STALL - 1
    watch.frame_done(task, begun=False)
    clock.now += STALL - 1
    assert watch.overdue(task, begun=False) is None
    watch.on_data(task, lambda: True)  # the next frame begins
    clock.now += STALL - 1
    assert watch.overdue(task, begun=True) is None


@given(gaps=st.lists(st.floats(0.0, STALL - 0.001), min_size=1, max_size=400))
def test_a_frame_always_continued_is_cut_only_at_its_deadline(gaps: list[float]) -> None:
    """However it trickles, a frame is cut once its first byte is the deadline old, and
    never before (nor for a stall)."""
    watch, clock, task = watching()
    watch.on_data(task, lambda: True)
    began = clock.now
    for gap in gaps:
        clock.now += gap
        reason = watch.overdue(task, begun=True)
        if clock.now - began >= DEADLINE:
            assert reason is not None and "not ended within 300 s of its first byte" in reason
            return
        assert reason is None
        watch.on_data(task, lambda: True)


def test_a_frame_first_seen_by_the_sweep_is_timed_from_the_data_before_it() -> None:
    """Bytes that came after an answer, with no wait for data since, are timed from then."""
    watch, clock, task = watching()
    watch.frame_done(task, begun=False)
    clock.now += STALL
    assert watch.overdue(task, begun=True) is not None
