"""``shared.worker_threads``: what a call on a worker thread raises reaches its caller as an
error it can answer (an ``Exception``), and never the event loop itself (review 232: a
``KeyboardInterrupt`` on the thread stopped the loop; a ``BaseException`` subclass passed
every ``except Exception`` and left the message unanswered). Cancelling the caller still
cancels it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.worker_threads import WorkerThreadError, carried, failure_name, on_worker_thread


class Boom(BaseException):
    """A BaseException subclass that is no Exception."""


class Stop(StopIteration):
    pass


class Interrupted(KeyboardInterrupt):
    pass


NOT_EXCEPTIONS: list[type[BaseException]] = [
    KeyboardInterrupt, SystemExit, GeneratorExit, Boom, Interrupted, asyncio.CancelledError,
    BaseException,
]  # fmt: skip
EXCEPTIONS: list[type[BaseException]] = [
    RuntimeError, MemoryError, RecursionError, ValueError, KeyError, TypeError, OSError,
    UnicodeDecodeError.__base__, ArithmeticError, LookupError,  # type: ignore[list-item]
]  # fmt: skip
STOPS: list[type[BaseException]] = [StopIteration, Stop]


def _raising(exc: BaseException) -> Callable[[], None]:
    def scrub() -> None:
        raise exc

    return scrub


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(NOT_EXCEPTIONS + EXCEPTIONS + STOPS))
def test_only_an_exception_other_than_stop_iteration_crosses_unchanged(
    kind: type[BaseException],
) -> None:
    exc = kind()
    error = carried(exc, _raising(exc))
    if issubclass(kind, Exception) and not issubclass(kind, StopIteration):
        assert error is exc
        assert failure_name(error) == kind.__name__
    else:
        assert isinstance(error, WorkerThreadError) and isinstance(error, RuntimeError)
        assert error.__cause__ is exc
        assert failure_name(error) == kind.__name__  # told by what the call raised
        assert str(error) == f"{kind.__name__} escaped scrub on a worker thread"


@pytest.mark.parametrize("kind", NOT_EXCEPTIONS + STOPS, ids=lambda k: k.__name__)
def test_the_caller_gets_an_error_and_the_loop_goes_on(kind: type[BaseException]) -> None:
    async def run() -> str:
        with pytest.raises(WorkerThreadError) as raised:
            await asyncio.wait_for(on_worker_thread(_raising(kind())), 5)
        await asyncio.sleep(0)  # the loop still runs its tasks
        return raised.value.kind

    assert asyncio.run(run()) == kind.__name__


def test_an_exception_reaches_the_caller_unchanged() -> None:
    async def run() -> None:
        with pytest.raises(MemoryError):
            await on_worker_thread(_raising(MemoryError()))
        assert await on_worker_thread(sorted, [2, 1], reverse=True) == [2, 1]

    asyncio.run(run())


def test_cancelling_the_caller_still_cancels_it() -> None:
    """A client gone, the service stopping: the caller is cancelled at once, the thread
    ends on its own and its result is dropped."""
    release, ended = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait(5)
        ended.set()
        return "copy"

    async def run() -> None:
        task = asyncio.ensure_future(on_worker_thread(slow))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await asyncio.to_thread(ended.wait, 5)

    asyncio.run(run())
    assert ended.is_set()
