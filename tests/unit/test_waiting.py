"""Bounded waits that never lose a cancellation (shared.waiting)."""

from __future__ import annotations

import asyncio

from shared.waiting import wait_event


async def test_an_event_set_in_time_is_reported() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True


async def test_an_event_not_set_in_time_is_reported_after_the_limit() -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await wait_event(asyncio.Event(), 0.05) is False
    assert loop.time() - began >= 0.05


async def test_a_cancellation_arriving_as_the_event_is_set_is_not_swallowed() -> None:
    """The ordering that makes Python 3.11's ``asyncio.wait_for`` return normally: the
    event's waiter completes, then the cancellation lands before the waiting task resumes.
    A loop around such a wait would go on after it was cancelled."""
    event = asyncio.Event()

    async def waits_then_goes_on() -> None:
        await wait_event(event, 10)
        await asyncio.sleep(10)

    waiting = asyncio.ensure_future(waits_then_goes_on())
    await asyncio.sleep(0)  # it waits on the event now
    event.set()
    asyncio.get_running_loop().call_soon(waiting.cancel)
    done, _ = await asyncio.wait({waiting}, timeout=2)
    assert waiting in done and waiting.cancelled(), "the cancellation ended the task"
