"""What one batch read from the database (or assumed), and what it will write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.lab_ingestion.domain.bundle_resends import BundleVersions
from services.lab_ingestion.domain.chain_contents import obtains_nothing
from services.lab_ingestion.domain.copies_elsewhere import (
    CHECKED_CHANNELS,
    NOTHING_ELSEWHERE,
    StoredElsewhere,
)
from services.lab_ingestion.domain.legacy_keys import analytes_held
from services.lab_ingestion.domain.model import ResultStatusCode
from services.lab_ingestion.domain.records import (
    BatchAssumptions,
    EarlierResult,
    EnrolledSubject,
    MessageRecord,
    PatientKey,
    RejectionRecord,
    ResultRecord,
    Sender,
    UnheldSample,
    Withdrawal,
    WithdrawnSubject,
    WithdrawnVersion,
)
from services.lab_ingestion.domain.result_identifiers import NOTHING_NAMED, NamedResults
from services.lab_ingestion.domain.withdrawn_chains import finds_no_chain, withdrew_preliminary
from services.lab_ingestion.service_layer.unlisted_copies import NO_BUDGET, UnlistedCopies

SourceKey = tuple[str, str]


@dataclass
class BatchContext:
    """What the batch read from the database, and what it will write."""

    allowed: Mapping[SourceKey, Sender]  # allowed senders -> their zone and site
    known: dict[SourceKey, str | None]  # stored messages -> their content digest
    subjects: dict[str, tuple[EnrolledSubject, ...]]  # HMAC -> the subjects enrolled under it
    latest: dict[SourceKey, EarlierResult]  # the head of each key's chain
    hmacs: dict[str, str] = field(default_factory=dict)  # hospital identifier -> its HMAC
    assumed: bool = False  # planned without a read: the write must check the assumptions
    messages: list[MessageRecord] = field(default_factory=list)
    results: list[ResultRecord] = field(default_factory=list)
    cancellations: list[Withdrawal] = field(default_factory=list)  # stored chains withdrawn
    rejections: list[RejectionRecord] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)
    # each patient's newest standing preliminary result under a key (only a cancellation
    # acts on it), as stored or as this batch left it; and as stored (the write cancels
    # stored rows by it)
    preliminary: dict[PatientKey, EarlierResult] = field(default_factory=dict)
    stored_preliminary: dict[PatientKey, EarlierResult] = field(default_factory=dict)
    # subjects withdrawn from the trial, by HMAC (read on the careful path only)
    withdrawn: dict[str, tuple[WithdrawnSubject, ...]] = field(default_factory=dict)
    # when each message in ``known`` was received: as read, or this batch's (a Bundle's
    # stale version is a resend only beside versions received before it: ``bundle_resends``)
    received: dict[SourceKey, datetime] = field(default_factory=dict)
    # each key's versions cancellations withdrew, each patient's (a final result restating
    # one is a late copy), as stored (careful path only) or as this batch left them
    withdrawn_versions: dict[SourceKey, frozenset[WithdrawnVersion]] = field(default_factory=dict)
    # each Bundle's versions by result key (by the identity of its first and last messages,
    # and their number), indexed once per batch (``bundle_resends``)
    bundles: dict[tuple[int, int, int], BundleVersions] = field(default_factory=dict)
    # result keys planned without a read as never having held anything (``unobtained``)
    assumed_unused: list[SourceKey] = field(default_factory=list)
    # the result keys the careful path's read found holding no row at all, for anyone
    read_empty: frozenset[SourceKey] = frozenset()
    # a replay's (None: a live batch's): when each key's chain last changed, as stored or as
    # this batch left it; its messages are applied as of when they first arrived. A replay
    # on the fast path reads none: its write is refused where a key holds any row
    changed_at: dict[SourceKey, datetime] | None = None
    # when the batch's withdrawals happen (``cancelled_at``): now for a live batch; for a
    # replay, when its message first arrived, as its versions count (review 110: a replayed
    # cancellation counted from the replay, after a kept final the lab sent later, which
    # was then refused as older than the chain)
    withdrawn_at: datetime | None = None
    # the subject directory held, when the batch began, every enrolment recorded before the
    # service started (``directory_gate``): a patient not found is nobody's, not yet read
    directory_complete: bool = True
    # the keyed hashes of the numbers whose messages the batch discarded as not enrolled
    # (``late_enrolments``); kept across a transaction's undoing: told once too often is safe
    discarded: list[str] = field(default_factory=list)
    # what an MLLP input from a sender not on the allow-list may leave (``unlisted_copies``)
    unlisted: UnlistedCopies = NO_BUDGET
    # the patients' standing results the batch's results may be copies of, under other
    # senders' names, and those results' keys as stored (careful path, results whose keys
    # the read found holding nothing, or a withdrawal of the batch may free:
    # ``copies_elsewhere``, ``withdrawn_chains.freed_in_batch``)
    stored_elsewhere: StoredElsewhere = NOTHING_ELSEWHERE
    # the stored results the batch's FHIR identifiers name, as read (careful path), by which
    # each is keyed again beside what the batch planned (``result_keys.keyed_as_planned``)
    named: NamedResults = NOTHING_NAMED
    # the subjects whose former number each hash is (careful path), and their standing
    # results a result under such a number may be of the sample of (``former_numbers``)
    former: dict[str, tuple[EnrolledSubject, ...]] = field(default_factory=dict)
    former_samples: StoredElsewhere = NOTHING_ELSEWHERE

    def snapshot(self) -> BatchContext:
        return BatchContext(
            self.allowed, dict(self.known), dict(self.subjects), dict(self.latest),
            self.hmacs, self.assumed, list(self.messages), list(self.results),
            list(self.cancellations), list(self.rejections), list(self.events),
            dict(self.preliminary), dict(self.stored_preliminary), self.withdrawn,
            dict(self.received), dict(self.withdrawn_versions), self.bundles,
            list(self.assumed_unused), self.read_empty,
            None if self.changed_at is None else dict(self.changed_at), self.withdrawn_at,
            self.directory_complete, self.discarded, self.unlisted, self.stored_elsewhere,
            self.named, self.former, self.former_samples,
        )  # fmt: skip

    def never_held(self, key: SourceKey) -> bool:
        """Whether nothing was ever stored under a result key, for anyone, as far as the
        batch read it (``obtains_nothing``: where an X withdraws nothing)."""
        return obtains_nothing(
            key, ResultStatusCode.CANNOT_OBTAIN.value, self.latest, self.preliminary,
            self.withdrawn_versions,
        )  # fmt: skip

    def unheld(self, key: SourceKey, status: str, subject_id: str) -> bool:
        """Whether a result of ``status`` for ``subject_id`` under ``key`` finds no standing
        final or corrected result there, for anyone, nor (a correction or withdrawal) a
        withdrawn one of the patient's, as far as the batch read it or left it
        (``withdrawn_chains.finds_no_chain``): the other feed's result of its sample is
        looked for (``copies_elsewhere``). Preliminaries are never published (review 188),
        and a correction or withdrawal of one is checked too (review 202: a withdrawal of
        the preliminary alone left the other feed's final standing; ``holds_preliminary``);
        a withdrawn result, anyone's, stands no more for a final (review 209), nor another
        patient's for a change (review 219)."""
        return finds_no_chain(key, status, subject_id, self.latest, self.withdrawn_versions)

    def withdrew_preliminary(self, key: SourceKey, status: str, subject_id: str) -> bool:
        """Whether a correction or withdrawal of ``subject_id``'s under ``key`` finds, of
        their withdrawn versions there, only preliminary ones, as read or as the batch left
        them (``withdrawn_chains.withdrew_preliminary``)."""
        return withdrew_preliminary(key, status, subject_id, self.withdrawn_versions)

    def holds_preliminary(self, key: SourceKey, subject_id: str | None) -> bool:
        """Whether ``subject_id``'s standing preliminary result is under ``key``, as read or
        as the batch left it: the one a correction or withdrawal of theirs could act on.
        Another patient's is not (review 209: a duplicate withdrawal of a result the other
        feed had withdrawn was refused while another patient's preliminary shared the
        order). With None: anyone's."""
        if subject_id is None:
            return any(held[:2] == key for held in self.preliminary)
        return (*key, subject_id) in self.preliminary

    def unused(self, key: SourceKey) -> bool:
        """Whether the careful path's read found ``key`` holding no row, for anyone, and the
        batch stored nothing there since (on assumptions: never, nothing was read)."""
        return key in self.read_empty and self.never_held(key)

    def analytes_held(self, key: SourceKey, subject_id: str) -> set[str]:
        """The analytes of what ``key`` holds for ``subject_id``, as read or as the batch
        left it (``legacy_keys.analytes_held``)."""
        return analytes_held(
            key, subject_id, self.latest, self.preliminary, self.withdrawn_versions
        )

    def restore(self, saved: BatchContext) -> None:
        self.__dict__.update(saved.__dict__)

    def assumptions(self) -> BatchAssumptions | None:
        """For a batch planned without a read: who it took to be enrolled (None: nobody),
        and the result keys it took to have never held a final or corrected result.

        For a batch planned from a read (the careful path): the result keys it writes that
        the read found holding no row at all (None: none such). Another instance's fast path
        takes no chain lock, and may store there between the read and the write: the write is
        then refused and the batch read again, or it would plan a key as empty that is not
        (a first final result beside the other's, a withdrawal missing it). A key the read
        found holding any row is never named, so a batch is never refused for what it read."""
        if not self.assumed:
            written = dict.fromkeys((r.source, r.result_key) for r in self.results)
            empty = [key for key in written if key in self.read_empty]
            return BatchAssumptions(new_result_keys=empty) if empty else None
        keys = {
            (r.source, r.result_key): None for r in self.results if r.supersedes_result_id is None
        }
        keys.update(dict.fromkeys(self.assumed_unused))
        return BatchAssumptions(
            subjects=[(h, self.only_subject(h)) for h in dict.fromkeys(self.hmacs.values())],
            new_result_keys=list(keys),
            unheld_samples=self._unheld_samples(),
            discarded=list(dict.fromkeys(self.discarded)),
        )

    def _unheld_samples(self) -> list[UnheldSample]:
        """The final results over HL7 or FHIR the batch planned without a read, each part of
        their keys, with their message's channel and laboratory (``feed_of``): the write
        refuses the batch (read and planned again, where the result is refused) when the
        lab's other feed holds one's sample (``copies_elsewhere``)."""
        messages = {m.message_id: m for m in self.messages}
        return [
            UnheldSample(
                r.source, r.subject_id, r.result.analyte.value, r.collected_at, part,
                message.channel, message.feed_of,
            )
            for r in self.results
            if r.status == ResultStatusCode.FINAL.value and r.supersedes_result_id is None
            and (message := messages.get(r.message_id)) is not None
            and message.channel in CHECKED_CHANNELS
            for part in sorted(r.identifier_parts)
        ]  # fmt: skip

    def only_subject(self, hmac: str) -> EnrolledSubject | None:
        """The one subject enrolled under ``hmac`` (None: nobody); a batch that knows of
        several takes the careful path, it never assumes."""
        enrolled = self.subjects.get(hmac, ())
        if len(enrolled) > 1:
            raise ValueError("several subjects enrolled under one identifier: read, not assume")
        return enrolled[0] if enrolled else None
