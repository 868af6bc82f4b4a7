"""The runtime's shutdown is bounded, and a background task that ends on its own stops the
service with a failure. No infrastructure: the real run/stop around a start that only
spawns background tasks, and a watchdog whose exit is recorded instead of taken."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from shared.runtime import BackgroundTaskFailed, ServiceRuntime
from shared.service import ServiceDefinition, ServiceParts
from shared.settings import PlatformSettings
from shared.shutdown import WATCHDOG_MARGIN_SECONDS, ShutdownWatchdog, run_bounded
from shared.startup import retry_dependency

SECRET = "S-4711 CRP 88 mg/L"  # what an error message may quote: never to be logged
Background = Callable[[asyncio.Event], Awaitable[None]]


class Stubborn:
    """A step that swallows cancellation (as mode/faust's stop does) until released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.cancelled = 0

    async def __call__(self) -> None:
        while not self.released.is_set():
            try:
                await self.released.wait()
            except asyncio.CancelledError:
                self.cancelled += 1


class RecordingWatchdog(ShutdownWatchdog):
    """Records when it is armed; never starts a thread."""

    def __init__(self) -> None:
        super().__init__()
        self.armed: list[float] = []

    def arm(self, seconds: float) -> None:
        self.armed.append(seconds)


class BackgroundOnly(ServiceRuntime):
    """The real ``run`` and ``stop``; ``start`` only spawns the given background tasks."""

    def __init__(self, tasks: Sequence[tuple[str, Background]], deadline: float = 1.0) -> None:
        definition = ServiceDefinition("unit", "unit", Path("."), lambda _: ServiceParts())
        super().__init__(definition, PlatformSettings(shutdown_deadline_seconds=deadline))
        self.background = tasks

    async def start(self) -> None:
        for name, task in self.background:
            self._spawn(name, task(self.stopping))
        self.started.set()


async def until_stopped(stopping: asyncio.Event) -> None:
    await stopping.wait()


async def returns_within(awaitable: Awaitable[None], seconds: float) -> float:
    """How long ``awaitable`` took; fails (without hanging) if it took ``seconds`` or more."""
    started = time.monotonic()
    done, _ = await asyncio.wait({asyncio.ensure_future(awaitable)}, timeout=seconds)
    assert done, f"still running after {seconds} s"
    done.pop().result()
    return time.monotonic() - started


async def test_a_step_that_ignores_cancellation_is_abandoned_at_its_deadline() -> None:
    step = Stubborn()
    try:
        elapsed = await returns_within(run_bounded("stubborn", step(), 0.2), 1.0)
        assert elapsed >= 0.15  # the loop may wake a clock tick early
        await asyncio.sleep(0)
        assert step.cancelled == 1  # it was asked to stop, and left behind when it did not
    finally:
        step.released.set()
        await asyncio.sleep(0.01)


async def test_a_step_that_finishes_in_time_is_awaited_and_a_failure_logged_by_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finished: list[str] = []

    async def quick() -> None:
        finished.append("quick")

    async def failing() -> None:
        raise RuntimeError(SECRET)

    with caplog.at_level(logging.WARNING, logger="shared.shutdown"):
        await run_bounded("quick", quick(), 1.0)
        await run_bounded("failing", failing(), 1.0)
    assert finished == ["quick"]
    assert [(r.getMessage(), getattr(r, "error", None)) for r in caplog.records] == [
        ("shutdown step failed", "RuntimeError")
    ]
    assert all(SECRET not in str(r.__dict__) for r in caplog.records)


async def test_a_crashed_background_task_stops_the_runtime_with_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def relay(stopping: asyncio.Event) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError(SECRET)

    others_stopped: list[str] = []

    async def listener(stopping: asyncio.Event) -> None:
        try:
            await stopping.wait()
        finally:
            others_stopped.append("listener")

    runtime = BackgroundOnly([("outbox-relay", relay), ("mllp", listener)])
    watchdog = RecordingWatchdog()
    running = runtime.run(install_signal_handlers=False, watchdog=watchdog)
    with (
        caplog.at_level(logging.WARNING, logger="shared.runtime"),
        pytest.raises(BackgroundTaskFailed) as failed,
    ):
        await asyncio.wait_for(running, 5)

    assert "outbox-relay (RuntimeError)" in str(failed.value)
    assert runtime.stopping.is_set()
    assert others_stopped == ["listener"]
    assert watchdog.armed == [1.0 + WATCHDOG_MARGIN_SECONDS]
    ended = [r for r in caplog.records if r.getMessage().startswith("background task ended")]
    assert [(getattr(r, "task", None), getattr(r, "error", None)) for r in ended] == [
        ("outbox-relay", "RuntimeError")
    ]
    assert all(SECRET not in str(r.__dict__) for r in caplog.records)
    assert SECRET not in str(failed.value)


async def test_a_background_task_that_returns_while_running_is_a_failure_too() -> None:
    async def gave_up(stopping: asyncio.Event) -> None:
        del stopping

    runtime = BackgroundOnly([("committer", gave_up), ("topic-watch", until_stopped)])
    with pytest.raises(BackgroundTaskFailed, match=r"committer \(returned\)"):
        await asyncio.wait_for(runtime.run(install_signal_handlers=False), 5)


async def test_an_orderly_stop_is_no_failure_and_arms_the_watchdog_once() -> None:
    runtime = BackgroundOnly([("topic-watch", until_stopped)], deadline=2.0)
    watchdog = RecordingWatchdog()
    task = asyncio.create_task(runtime.run(install_signal_handlers=False, watchdog=watchdog))
    await asyncio.wait_for(runtime.started.wait(), 5)
    assert watchdog.armed == []  # only once shutdown begins
    runtime.stopping.set()
    await asyncio.wait_for(task, 5)
    assert watchdog.armed == [2.0 + WATCHDOG_MARGIN_SECONDS]


async def test_stop_ends_within_the_deadline_when_a_task_ignores_cancellation() -> None:
    stubborn = Stubborn()

    async def ignores_cancellation(stopping: asyncio.Event) -> None:
        del stopping
        await stubborn()

    runtime = BackgroundOnly([("stubborn", ignores_cancellation)], deadline=0.3)
    await runtime.start()
    try:
        await returns_within(runtime.stop(), 1.0)
    finally:
        stubborn.released.set()
        await asyncio.sleep(0.01)


def test_the_watchdog_ends_the_process_once_its_time_is_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exits: list[int] = []
    exited = threading.Event()

    def record_exit(status: int) -> None:
        exits.append(status)
        exited.set()

    watchdog = ShutdownWatchdog(exit_status=70, hard_exit=record_exit)
    with caplog.at_level(logging.CRITICAL, logger="shared.shutdown"):
        watchdog.arm(0.05)
        assert exited.wait(5)
    assert exits == [70]
    assert [r.getMessage() for r in caplog.records] == [
        "shutdown overran its deadline; ending the process"
    ]


def test_a_disarmed_watchdog_never_fires() -> None:
    exits: list[int] = []
    watchdog = ShutdownWatchdog(hard_exit=exits.append)
    watchdog.arm(0.1)
    watchdog.disarm()
    time.sleep(0.3)
    assert exits == []


class StartsSlowly(BackgroundOnly):
    """``start`` is stuck in a step (a dependency that accepts and never answers, a migration
    waiting on its lock); ``stubborn`` makes it swallow the cancellation too (faust's start)."""

    def __init__(self, deadline: float, stubborn: bool = False) -> None:
        super().__init__([], deadline=deadline)
        self.entered = asyncio.Event()
        self.step = Stubborn() if stubborn else None
        self.cancelled = False

    async def start(self) -> None:
        self.entered.set()
        try:
            if self.step is not None:
                await self.step()
            else:
                # no failure to look at stopping
                await retry_dependency(self.stopping, "postgres", never_answers)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.started.set()


async def never_answers() -> None:
    await asyncio.Event().wait()


@pytest.mark.parametrize("stubborn", [False, True], ids=["cancellable", "ignores-cancel"])
async def test_a_stop_during_start_up_arms_the_watchdog_at_once_and_ends_within_the_deadline(
    stubborn: bool,
) -> None:
    deadline = 1.0
    runtime = StartsSlowly(deadline, stubborn=stubborn)
    watchdog = RecordingWatchdog()
    task = asyncio.create_task(runtime.run(install_signal_handlers=False, watchdog=watchdog))
    try:
        await asyncio.wait_for(runtime.entered.wait(), 5)
        runtime.stopping.set()  # SIGTERM
        await asyncio.sleep(0.05)
        assert watchdog.armed == [deadline + WATCHDOG_MARGIN_SECONDS]  # not once start gave up
        elapsed = await returns_within(task, deadline + 0.5)
        assert elapsed <= deadline + 0.2  # the loop's own lateness on a busy machine
        assert runtime.cancelled or stubborn
        assert not runtime.started.is_set()
    finally:
        if runtime.step is not None:
            runtime.step.released.set()
        await asyncio.sleep(0.01)


async def test_a_start_up_failure_still_stops_the_service_and_is_raised() -> None:
    class FailsToStart(BackgroundOnly):
        async def start(self) -> None:
            self._spawn("topic-watch", until_stopped(self.stopping))
            raise ValueError("bad migration")

    runtime = FailsToStart([])
    watchdog = RecordingWatchdog()
    with pytest.raises(ValueError, match="bad migration"):
        await asyncio.wait_for(runtime.run(install_signal_handlers=False, watchdog=watchdog), 5)
    assert runtime.stopping.is_set()
    assert all(task.done() for task in runtime._tasks)
    assert watchdog.armed == [1.0 + WATCHDOG_MARGIN_SECONDS]


async def test_readiness_waits_for_start_up_and_goes_the_moment_stopping_begins() -> None:
    release = asyncio.Event()

    class MigratesSlowly(BackgroundOnly):
        async def start(self) -> None:
            await release.wait()  # migrations pending, listeners not started
            await super().start()

    async def answers() -> bool:
        return True

    runtime = MigratesSlowly([("topic-watch", until_stopped)])
    runtime._readiness.checks = {"postgres": answers, "kafka": answers}
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    await asyncio.sleep(0.05)
    starting = await runtime._readiness.report()
    assert starting["ready"] is False
    assert starting["started"] is False
    assert starting["checks"] == {"postgres": True, "kafka": True}  # still says what is there

    release.set()
    await asyncio.wait_for(runtime.started.wait(), 5)
    assert (await runtime._readiness.report())["ready"] is True

    runtime.stopping.set()  # within the checks' cache time: not ready all the same
    stopping = await runtime._readiness.report()
    assert (stopping["ready"], stopping["stopping"]) == (False, True)
    await asyncio.wait_for(task, 5)
