"""Whether a stale FHIR version in a Bundle is part of the Bundle sent again whole (pure).

A Bundle sent again whole after a lost answer holds versions its first send stored and later
ones of the same results: each stale version in it is then a resend, not a late copy. That is
decided for each result key on its own (review 109): the Bundle's other results do not matter
(a patient not enrolled then, or since, an entry rejected, a key in another commit batch),
only every version the Bundle holds of that result (each received before this send: stored
by its earlier send, in the database or earlier in the batch, never by this send itself) and
the chain's head (the Bundle's last version of the result: what it left standing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import check_repeated_version
from services.lab_ingestion.domain.records import EarlierResult

SourceKey = tuple[str, str]


@dataclass
class BundleVersions:
    """A Bundle's Observations by result key, in its order (indexed once per Bundle: each of
    its entries may ask, and looking through the whole Bundle for each would be entries x
    entries work on the event loop), and of each key's how many, from its first, are known
    to have been received before the Bundle. That count only grows while a batch is planned:
    a message received before is never forgotten, and one stored by the Bundle itself never
    counts (received with it, not before), so each key's versions are looked at once."""

    received_at: datetime
    by_key: dict[SourceKey, list[SourceKey]] = field(default_factory=dict)
    last: dict[SourceKey, LabMessage] = field(default_factory=dict)
    counted: dict[SourceKey, int] = field(default_factory=dict)

    @classmethod
    def of(cls, bundle: tuple[LabMessage, ...], received_at: datetime) -> BundleVersions:
        versions = cls(received_at)
        for message in bundle:
            source, stored = message.source, (message.source, message.control_id)
            for observation in message.observations:
                key = (source, observation.result_key)
                versions.by_key.setdefault(key, []).append(stored)
                versions.last[key] = message
        return versions

    def all_received_before(self, key: SourceKey, received: Mapping[SourceKey, datetime]) -> bool:
        """Whether every version of ``key`` in the Bundle was received before it
        (``received``: when each message known was received)."""
        stored = self.by_key.get(key, [])
        count = self.counted.get(key, 0)
        while count < len(stored):
            at = received.get(stored[count])
            if at is None or at >= self.received_at:
                break
            count += 1
        self.counted[key] = count
        return bool(stored) and count == len(stored)


def resent_in_bundle(
    message: LabMessage,
    versions: BundleVersions,
    received: Mapping[SourceKey, datetime],
    heads: Mapping[SourceKey, EarlierResult],
    params: UnitParameters,
    *,
    subject_id: str | None = None,
) -> bool:
    """Whether ``message``, a stored version whose chain moved on, is answered as a resend in
    its Bundle: for each of its results, every version the Bundle holds of it was received
    before the Bundle, and the Bundle's last version of it says what the chain holds now.
    A partial resend (an older version alone, or before an ignored or new sibling), versions
    reordered so that an older one is the Bundle's last, or a new version after the stored
    ones is no resend of the stale one: it is refused as when sent alone."""
    for observation in message.observations:
        key = (message.source, observation.result_key)
        if not versions.all_received_before(key, received):
            return False
        last = versions.last[key]
        if check_repeated_version(last, heads, params, subject_id) is not None:
            return False
    return bool(message.observations)
