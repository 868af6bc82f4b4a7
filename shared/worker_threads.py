"""Running blocking work on a worker thread from the event loop, safely.

``asyncio.to_thread`` cannot carry a ``StopIteration`` out of the thread: setting it on the
asyncio future raises ``TypeError`` inside the loop's callback, and the awaiting task is
never resumed (review 224: a ``next()`` without a default deep in the HL7 scrubber left a
rejected message unanswered for good). ``on_worker_thread`` turns it into a
``RuntimeError``, which the callers' error handling answers as any other failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def on_worker_thread(call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread(call, *args, **kwargs)``, a ``StopIteration`` raised by ``call``
    re-raised as ``RuntimeError`` (module docstring)."""

    def guarded() -> T:
        try:
            return call(*args, **kwargs)
        except StopIteration as exc:
            name = getattr(call, "__name__", type(call).__name__)
            raise RuntimeError(f"StopIteration escaped {name}") from exc

    return await asyncio.to_thread(guarded)
