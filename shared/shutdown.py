"""Bounded shutdown: steps abandoned at their deadline, and a watchdog behind them.

A faust worker can hang on SIGTERM (SPEC section 4): mode and faust swallow cancellation, so
``asyncio.wait_for`` (which waits for the cancelled step to finish) does not bound a step, and
``asyncio.run`` then waits for every leftover task without limit.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# The watchdog fires this long after the shutdown deadline: stop() itself ends within the
# deadline (plus a moment per step), what is left is asyncio.run's own clean-up.
WATCHDOG_MARGIN_SECONDS = 2.0
EXIT_SHUTDOWN_OVERRAN = 70  # EX_SOFTWARE: the process had to be ended by its watchdog
_STEP_FLOOR_SECONDS = 0.1


class ShutdownWatchdog:
    """Ends the process if it is still alive a set time after shutdown began.

    The last resort behind the bounded shutdown steps: a step can ignore cancellation (mode
    and faust swallow it) and ``asyncio.run`` then waits for every leftover task without
    limit. A daemon thread does not depend on the event loop. It is disarmed when the
    interpreter exits normally, so a process that got that far is never ended on its way out.
    """

    def __init__(
        self,
        exit_status: int = EXIT_SHUTDOWN_OVERRAN,
        hard_exit: Callable[[int], object] = os._exit,
    ) -> None:
        self._exit_status = exit_status
        self._hard_exit = hard_exit  # os._exit: no clean-up that could hang again
        self._timer: threading.Timer | None = None

    def arm(self, seconds: float) -> None:
        if self._timer is not None:
            return
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()
        atexit.register(self.disarm)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            atexit.unregister(self.disarm)

    def _fire(self) -> None:
        # one log line first; it gets a second (a handler can block on a full pipe)
        say = threading.Thread(target=self._say, daemon=True)
        say.start()
        say.join(1.0)
        self._hard_exit(self._exit_status)

    def _say(self) -> None:
        log.critical(
            "shutdown overran its deadline; ending the process",
            extra={"exit_status": self._exit_status},
        )


async def run_bounded(what: str, awaitable: Awaitable[object], seconds: float) -> None:
    """Run one shutdown step for at most ``seconds``, then cancel and abandon it.

    Not ``asyncio.wait_for``: after its timeout it waits for the cancelled step to finish,
    which a step that swallows the cancellation (faust's stop) never does. A failure is
    logged by its type only: a message can quote data.
    """
    step = asyncio.ensure_future(awaitable)
    step.add_done_callback(_collect_outcome)
    try:
        done, _ = await asyncio.wait({step}, timeout=seconds)
    except asyncio.CancelledError:
        step.cancel()
        raise
    if not done:
        step.cancel()
        log.warning("shutdown step timed out", extra={"step": what, "seconds": seconds})
    elif not step.cancelled() and (error := step.exception()) is not None:
        log.warning("shutdown step failed", extra={"step": what, "error": type(error).__name__})


def _collect_outcome(step: asyncio.Future[object]) -> None:
    """Retrieve an abandoned step's outcome, so asyncio does not report it as unhandled."""
    if not step.cancelled():
        step.exception()


class ShutdownBudget:
    """What is left of the shutdown deadline. A step gets its own allowance or what is left,
    whichever is less, and always a moment, so that every later step is at least tried."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds

    def allow(self, allowance: float) -> float:
        return max(min(allowance, self._ends - time.monotonic()), _STEP_FLOOR_SECONDS)
