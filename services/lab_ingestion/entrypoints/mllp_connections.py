"""The MLLP listener's open connections, and what it knows of each.

Each connection is served by its own task, which is its key here: its streams (for the
sweep of stalled frames), its peer's address (kept with what it sent), when it was opened
or last answered (the slot of the one idle longest goes to a new connection at the cap),
whether it is between a complete frame and its ACK (a shutdown lets that finish) and
whether it is discarding a block over the size limit (and how much of it so far).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from hl7.mllp import HL7StreamReader, HL7StreamWriter

from services.lab_ingestion.entrypoints.mllp_streams import begun_frame, peer_address
from services.lab_ingestion.entrypoints.mllp_watch import FrameWatch

Connection = asyncio.Task[None]


class OpenConnections:
    def __init__(self, watch: FrameWatch) -> None:
        self.watch = watch
        self.tasks: set[Connection] = set()
        self.streams: dict[Connection, tuple[HL7StreamReader, HL7StreamWriter]] = {}
        # between a complete frame and its ACK sent: at shutdown they finish
        self.answering: set[Connection] = set()
        # discarding a block over the limit, and how much of it so far (the stall sweep
        # sees it grow; such a connection is not idle)
        self.skipping: dict[Connection, int] = {}
        self._last_active: dict[Connection, float] = {}  # opened, or last ACK sent
        self._peers: dict[Connection, str | None] = {}

    def __len__(self) -> int:
        return len(self.tasks)

    def open(self, task: Connection, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        self.tasks.add(task)
        self.streams[task] = (reader, writer)
        self._last_active[task] = asyncio.get_running_loop().time()
        self._peers[task] = peer_address(writer)
        self.watch.watch(task)

    def close(self, task: Connection) -> None:
        self.tasks.discard(task)
        self.streams.pop(task, None)
        self.watch.forget(task)
        self._last_active.pop(task, None)
        self._peers.pop(task, None)

    def answered(self, task: Connection | None) -> None:
        """An ACK was sent on ``task``: it is active now."""
        if task in self._last_active:
            self._last_active[task] = asyncio.get_running_loop().time()

    def peer(self, task: Connection | None) -> str | None:
        """The address of ``task``'s peer (None: not known)."""
        return self._peers.get(task) if task is not None else None

    def free_a_slot(self, idle_for: float) -> float | None:
        """Close the connection idle longest, if one has been idle at least ``idle_for``
        seconds (no frame begun or being answered, nothing sent); its own task ends it (it
        is cancelled between frames, where nothing was submitted). Returns how long it was
        idle; None: none was."""
        now = asyncio.get_running_loop().time()
        idle = [task for task, (reader, _) in self.streams.items()
                if task not in self.answering and task not in self.skipping
                and not begun_frame(reader)
                and now - self._last_active.get(task, now) >= idle_for]  # fmt: skip
        if not idle:
            return None
        longest = min(idle, key=lambda task: self._last_active[task])
        longest.cancel()
        self.tasks.discard(longest)
        self.streams.pop(longest, None)
        return now - self._last_active[longest]

    @contextlib.contextmanager
    def answering_a_frame(self) -> Iterator[None]:
        """From a complete frame to its ACK sent (of the current task): a shutdown lets
        this finish. The frame's clock stops meanwhile; the next frame is timed from its
        end."""
        task = asyncio.current_task()
        if task is not None:
            self.answering.add(task)
        try:
            yield
        finally:
            if task is not None:
                self.answering.discard(task)
                if (streams := self.streams.get(task)) is not None:
                    self.watch.frame_done(task, begun_frame(streams[0]) > 0)
