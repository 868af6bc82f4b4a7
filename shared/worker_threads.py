"""Running blocking work on a worker thread from the event loop, safely.

``asyncio.to_thread`` cannot carry every exception out of the thread:

- a ``StopIteration`` set on the asyncio future raises ``TypeError`` inside the loop's
  callback, and the awaiting task is never resumed (review 224: a ``next()`` without a
  default deep in the HL7 scrubber left a rejected message unanswered for good);
- a ``KeyboardInterrupt`` or ``SystemExit`` is re-raised by the awaiting task's step out of
  the event loop itself, which stops every connection of the service (review 232);
- any other exception that is no ``Exception`` (a ``GeneratorExit``, a library's own
  ``BaseException`` subclass) passes every caller's ``except Exception`` and drops the
  message being answered (review 232: an MLLP connection closed without an ACK, an HTTP
  client disconnected).

``on_worker_thread`` turns each of these, raised by the call on the thread, into a
``WorkerThreadError`` (a ``RuntimeError``), which the callers' error handling answers as any
other failure of that one message. A signal's ``KeyboardInterrupt`` is only ever raised on
the main thread, the event loop's: one on a worker thread is the call's own doing, never the
operator's stop. Cancelling the awaiting task (a client gone, the service stopping) still
cancels it: the ``CancelledError`` is raised in the task, not on the thread, and the thread's
result is dropped when it ends. Exceptions (``MemoryError``, ``RecursionError`` too) pass
unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class WorkerThreadError(RuntimeError):
    """What a call on a worker thread raised that cannot cross into the event loop as it
    is (module docstring): ``kind`` is its type's name (an error's text can quote the
    input; a type's name cannot), the original its ``__cause__``."""

    def __init__(self, kind: str, call: str) -> None:
        super().__init__(f"{kind} escaped {call} on a worker thread")
        self.kind = kind


def carried(exc: BaseException, call: object) -> BaseException:
    """``exc`` as it may be raised out of the worker thread running ``call``: unchanged if
    it is an ``Exception`` other than ``StopIteration``, else a ``WorkerThreadError``."""
    if isinstance(exc, Exception) and not isinstance(exc, StopIteration):
        return exc
    name = getattr(call, "__name__", None) or getattr(getattr(call, "func", None), "__name__", "")
    error = WorkerThreadError(type(exc).__name__, name or type(call).__name__)
    error.__cause__ = exc
    return error


def failure_name(error: BaseException) -> str:
    """The name a failure is logged and told by: its type's, or, for a ``WorkerThreadError``,
    the type's of what the call raised on the thread."""
    return error.kind if isinstance(error, WorkerThreadError) else type(error).__name__


async def on_worker_thread(call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread(call, *args, **kwargs)``, what ``call`` raises that cannot cross
    into the event loop re-raised as ``WorkerThreadError`` (module docstring)."""

    def guarded() -> T:
        try:
            return call(*args, **kwargs)
        except BaseException as exc:  # on the worker thread: never the task's cancellation
            error = carried(exc, call)
            if error is exc:
                raise
            raise error  # noqa: B904 (its __cause__ is set: ``carried``)

    return await asyncio.to_thread(guarded)
