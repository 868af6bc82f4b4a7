"""The Python work a call does, counted as the interpreter's trace events (each function
called and each line run, a loop's every pass included): deterministic for one Python
version, whatever the machine's load, so a cost that grows with input is tested without
timing it (how long things take is measured by ``bench/redaction_cost.py``). What runs in
C (a regular expression, ``str.join``) counts once, however long it takes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


class StepBudgetExceeded(AssertionError):
    """The call took more steps than allowed (stopped there, not run to its end)."""


def python_steps(call: Callable[[], object], budget: int | None = None) -> int:
    """The trace events of ``call()`` (which suppresses what it expects to be raised);
    stopped with StepBudgetExceeded past ``budget``, so that code doing a step per
    character fails at once rather than running a megabyte under the tracer."""
    steps = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal steps
        steps += 1
        if budget is not None and steps > budget:
            raise StepBudgetExceeded(f"more than {budget:,} Python steps")
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(previous)
    return steps
