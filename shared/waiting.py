"""Waiting with a time limit without losing a cancellation.

On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives in the same loop
turn as the awaited thing completes (it returns the result instead, python/cpython#86296):
a loop that waits that way can then go on after it was cancelled, and whoever cancelled it
waits for it forever. ``asyncio.timeout`` counts cancellations and never does that, so every
bounded wait of the platform goes through it.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True when it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
