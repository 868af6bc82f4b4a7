"""A replay applies a kept message as of when it first arrived (pure: no I/O).

``cachexia replay`` ingests a kept rejection's copy as the message that arrived at the
rejection's ``received_at``. The chains its results continue may have moved on since: a
message the service failed on is answered "kept, do not resend", and the lab goes on
correcting, cancelling or sending the result again. Applied on top, an old correction would
replace the lab's newer one (published as the current value), and an old cancellation would
withdraw it.

So a replayed result under a key whose chain changed since the message first arrived
(``FirstArrival.moved_on``) is applied only where it changes nothing: a duplicate, left out
(a final result restating the chain, a cancellation of a chain withdrawn already). Anything
else refuses the whole message (``changed_since_kept``): nothing is stored or published, and
the rejection stays open until the laboratory says whether the message still stands. A key
whose chain did not change is applied as it would have been then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.lab_ingestion.domain.model import Rejected, RejectionCode, ResultStatusCode
from services.lab_ingestion.domain.result_status import CANCELLING

SourceKey = tuple[str, str]


@dataclass(frozen=True)
class FirstArrival:
    """When a replayed message first arrived (``received_at``), and when each of its result
    keys' chains last changed (``changed_at``: the latest arrival of a message that stored a
    version there, of any patient and status, or the latest withdrawal of one; a key that
    never held a row is absent)."""

    received_at: datetime
    changed_at: Mapping[SourceKey, datetime]

    def moved_on(self, key: SourceKey) -> bool:
        """Whether the key's chain changed since the message first arrived (at that very
        moment too: which came first cannot be told)."""
        changed = self.changed_at.get(key)
        return changed is not None and changed >= self.received_at


def changed_since_kept(status: str) -> Rejected:
    """Why a replayed result is not applied to a chain that changed since its message was
    kept (the instruction last: the operator reads it, no lab's MSA-3)."""
    if status == ResultStatusCode.CORRECTED.value:
        what, would = "the result it corrects", "replace a newer version"
    elif status in CANCELLING:
        what, would = "the result it cancels", "withdraw a newer version"
    else:
        what, would = "the result under its order and test", "be taken for newer than that"
    return Rejected(
        RejectionCode.AMBIGUOUS_VERSION,
        f"{what} changed since this message was kept (replayed, it would {would}): ask the "
        "laboratory whether it still stands; if it does, the laboratory sends it again under "
        "a new message id",
    )
