"""How long an MLLP frame may take to arrive: a frame begun and not continued for the stall
period, or not ended within the frame deadline of its first byte (a sender trickling a byte
a second would hold its connection's slot for ever: a growing frame never stalls), ends its
connection; the listener keeps what came as a truncated frame, with the reason ``cut`` gives.

Each connection's clock is told when data came (``on_data``, by the reading loop after each
wait: exact, and nothing on the hot path but a clock read) and when a frame was answered
(``frame_done``); a sweep looks every ``interval`` (a few seconds at most), so a stalled
frame ends between the stall period and that much more. A connection answering a frame is
not looked at: what its sender sends meanwhile is not read, and is no stall of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

# how often the sweep looks, at most (the stall period and the deadline are ended within it)
SWEEP_MAX_SECONDS = 5.0


def sweep_interval(stall_seconds: float, deadline_seconds: float) -> float:
    """A few seconds, or a quarter of the shorter limit when that is less."""
    return min(SWEEP_MAX_SECONDS, stall_seconds / 4, deadline_seconds / 4)


@dataclass
class _Clock:
    progressed: float  # when data last came (or the connection opened, or a frame was answered)
    began: float | None = None  # when the frame being read began: None between frames


class FrameWatch:
    def __init__(
        self,
        stall_seconds: float,
        deadline_seconds: float,
        now: Callable[[], float],
    ) -> None:
        self.stall_seconds = stall_seconds
        self.deadline_seconds = deadline_seconds
        self.interval = sweep_interval(stall_seconds, deadline_seconds)
        self._now = now
        self._clocks: dict[asyncio.Task[None], _Clock] = {}
        self._cut: dict[asyncio.Task[None], str] = {}  # connections ended, and why

    def watch(self, task: asyncio.Task[None]) -> None:
        self._clocks[task] = _Clock(self._now())

    def forget(self, task: asyncio.Task[None]) -> None:
        self._clocks.pop(task, None)
        self._cut.pop(task, None)

    def on_data(self, task: asyncio.Task[None], begun: Callable[[], bool]) -> None:
        """Data came; ``begun``: whether a frame has begun (asked only between frames)."""
        clock = self._clocks.get(task)
        if clock is None:
            return
        clock.progressed = self._now()
        if clock.began is None and begun():
            clock.began = clock.progressed

    def frame_done(self, task: asyncio.Task[None], begun: bool) -> None:
        """A frame was answered (or kept); ``begun``: the next one is already in the buffer
        (it came while this one was answered: timed from now)."""
        clock = self._clocks.get(task)
        if clock is not None:
            clock.progressed = self._now()
            clock.began = clock.progressed if begun else None

    def cut(self, task: asyncio.Task[None]) -> str | None:
        """Why the sweep ended ``task``'s connection (None: it did not)."""
        return self._cut.get(task)

    def overdue(self, task: asyncio.Task[None], begun: bool) -> str | None:
        """Whether ``task``'s frame (``begun``: there is one) has taken too long, and why;
        the connection is then taken as cut (the caller closes it)."""
        clock = self._clocks.get(task)
        if clock is None or task in self._cut:
            return None
        now = self._now()
        if not begun:
            clock.began = None
            return None
        if clock.began is None:  # it came while no wait was done (after an answer)
            clock.began = clock.progressed
        reason = None
        if now - clock.progressed >= self.stall_seconds:
            reason = f"MLLP frame not continued for {self.stall_seconds:g} s (connection closed)"
        elif now - clock.began >= self.deadline_seconds:
            reason = (
                f"MLLP frame not ended within {self.deadline_seconds:g} s of its first byte "
                "(connection closed)"
            )
        if reason is not None:
            self._cut[task] = reason
        return reason
