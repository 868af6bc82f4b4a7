"""What an MLLP input from a sender not on the allow-list, or naming none (a frame cut short,
without a readable MSH), may leave: anyone who reaches the port sends those, no token needed
(review 132: frames just under 64 KiB, each kept whole and published, filled the database's
disk at megabytes a second from one host).

Its copy is kept up to ``max_chars`` characters; beyond, its length and SHA-256 only
(``rejections._bounded_copy``: of the input as received, ``Received``; its entrypoint does
not even redact one it knows will be so). And each peer address may leave ``per_minute``
rejections a minute: beyond, the input is still answered (AR), counted (``on_not_kept``),
and nothing is written or published. A sender on the allow-list is never bounded so: its
copies stay whole.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

MAX_CHARS = 4 * 1024  # a real ORU is a few KiB: what an unknown sender's copy may keep
PER_MINUTE = 60  # kept rejections a minute per peer address
WINDOW_SECONDS = 60.0
# peers counted at once: beyond, the one seen longest ago is forgotten (a spoofed flood of
# addresses cannot grow the table; TCP needs a handshake, so addresses are few anyway)
MAX_PEERS = 4096
# inputs whose decision is remembered: a batch planned again (or retried) decides once
MAX_DECIDED = 4096


class UnlistedCopies:
    def __init__(
        self,
        max_chars: int = MAX_CHARS,
        per_minute: int | None = None,
        on_not_kept: Callable[[], None] = lambda: None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_chars = max_chars
        self._per_minute = per_minute  # None: no budget (tests, a replay)
        self._on_not_kept = on_not_kept
        self._now = now
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()  # began, kept
        self._decided: OrderedDict[uuid.UUID, bool] = OrderedDict()

    def admit(self, peer: str | None, input_id: uuid.UUID) -> bool:
        """Whether the rejection of input ``input_id``, from ``peer`` (None: not over MLLP,
        or not known), may be kept; not: counted once (``on_not_kept``)."""
        if peer is None or self._per_minute is None:
            return True
        decided = self._decided.get(input_id)
        if decided is None:
            decided = self._take(peer)
            self._decided[input_id] = decided
            if len(self._decided) > MAX_DECIDED:
                self._decided.popitem(last=False)
            if not decided:
                self._on_not_kept()
        return decided

    def _take(self, peer: str) -> bool:
        now = self._now()
        began, kept = self._windows.pop(peer, (now, 0))
        if now - began >= WINDOW_SECONDS:
            began, kept = now, 0
        admitted = kept < (self._per_minute or 0)
        self._windows[peer] = (began, kept + 1 if admitted else kept)  # last: seen latest
        if len(self._windows) > MAX_PEERS:
            self._windows.popitem(last=False)
        return admitted


NO_BUDGET = UnlistedCopies()  # the bound on copies alone (a deployment's sets its budget)
