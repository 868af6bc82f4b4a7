"""Whether a kept rejection is open (neither replayed nor closed by an operator), how its state
is shown, and why a replay of one that is not open is refused.

A rejection is settled once, by a replay that stores its message (``replayed_at``) or by an
operator's ``cachexia rejection close`` (``closed_at``, ``closed_as``): never both. A replay
checks it is open when it reads it, and again in the transaction that commits it, the
rejection's row locked (review 214: a close landing in between was stored, published and
closed at once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple


class RejectionState(NamedTuple):
    replayed_at: datetime | None
    closed_at: datetime | None
    closed_as: str | None

    @property
    def open(self) -> bool:
        return self.replayed_at is None and self.closed_at is None

    @property
    def shown(self) -> str:
        """As ``cachexia rejection list`` shows it: replayed, closed (why), or open."""
        if self.replayed_at is not None:
            return "replayed"
        return f"closed ({self.closed_as})" if self.closed_at is not None else "open"

    def why_not_open(self) -> str | None:
        """Why a replay is refused (one line), None when it is open."""
        if self.replayed_at is not None:
            return f"already replayed at {_when(self.replayed_at)}"
        if self.closed_at is not None:
            return f"closed by an operator at {_when(self.closed_at)} ({self.closed_as})"
        return None


class RejectionNotOpen(Exception):
    """A replay's rejection found settled in the transaction that would commit the replay
    (closed by an operator, or replayed by another replay, since the replay read it): the
    transaction is rolled back, nothing of the replay is stored. ``state``: as found, None
    when the rejection is gone."""

    def __init__(self, rejection_id: uuid.UUID, state: RejectionState | None) -> None:
        why = "gone" if state is None else state.why_not_open() or state.shown
        super().__init__(f"rejection {rejection_id} is not open: {why}")
        self.rejection_id = rejection_id
        self.state = state


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}"
