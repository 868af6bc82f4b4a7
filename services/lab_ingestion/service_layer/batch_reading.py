"""What a batch knows before it plans: read from the database (the careful path), or
assumed from what earlier reads left (the fast path), and the allow-list, cached briefly.

The reader remembers, by keyed hash, who was enrolled and who withdrawn as last read. The
fast path matches by that memory alone and assumes its messages and result keys new; the
write statement checks every assumption and stores nothing if one no longer holds (the
batch is then read and planned again). A withdrawn subject's identifier, or one several
subjects share, is never assumed: it sends the batch to the careful path at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.copies_elsewhere import (
    NOTHING_ELSEWHERE,
    StoredElsewhere,
    checked_elsewhere,
)
from services.lab_ingestion.domain.legacy_keys import has_legacy_keys, legacy_key_of
from services.lab_ingestion.domain.matching import match_subject
from services.lab_ingestion.domain.model import LabMessage, StaleBatch
from services.lab_ingestion.domain.records import EnrolledSubject, Sender
from services.lab_ingestion.domain.result_identifiers import NOTHING_NAMED, NamedResults
from services.lab_ingestion.domain.withdrawn_chains import freed_in_batch, withdrawn_beside
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.former_numbers import former_samples, site_of
from services.lab_ingestion.service_layer.identification import (
    alternates_to_hash,
    identifiers_to_hash,
)

SourceKey = tuple[str, str]
SOURCES_TTL_SECONDS = 2.0


class BatchReader:
    """Builds each batch's context; keeps what the fast path may assume between batches."""

    def __init__(self, hash_identifier: Callable[[str], str]) -> None:
        self._hash = hash_identifier
        self._sources: dict[SourceKey, Sender] | None = None
        self._sources_read_at = 0.0
        self._enrolled: dict[str, tuple[EnrolledSubject, ...]] = {}  # by HMAC, as last read
        self._withdrawn: set[str] = set()  # HMACs a withdrawn subject was enrolled under
        self._former: set[str] = set()  # HMACs that were a subject's before a correction

    async def allowed_sources(self, uow: Any) -> dict[SourceKey, Sender]:
        """The allow-list, re-read at most every few seconds (a new sender is live within
        ``SOURCES_TTL_SECONDS``)."""
        now = time.monotonic()
        if self._sources is None or now - self._sources_read_at > SOURCES_TTL_SECONDS:
            self._sources = await uow.labs.allowed_sources()
            self._sources_read_at = now
        return self._sources

    def listed(self, sender: SourceKey) -> bool | None:
        """Whether ``sender`` is on the allow-list as last read, if that read is fresh
        (within ``SOURCES_TTL_SECONDS``, as a batch would use it); None: not known."""
        if self._sources is None or time.monotonic() - self._sources_read_at > SOURCES_TTL_SECONDS:
            return None
        return sender in self._sources

    def assume(
        self, ingests: list[IngestLabMessage], allowed: dict[SourceKey, Sender]
    ) -> BatchContext:
        """A batch context without a read: new messages, the subjects remembered, result
        keys that never held a result; the write checks these assumptions."""
        hmacs = self._hmacs(ingests)
        subjects = {h: self._enrolled[h] for h in hmacs.values() if h in self._enrolled}
        if any(len(enrolled) > 1 for enrolled in subjects.values()):
            raise StaleBatch("several subjects share an identifier: read before matching")
        if not self._withdrawn.isdisjoint(hmacs.values()):
            raise StaleBatch("a withdrawn subject's identifier: read before matching")
        if any(self._under_former(c.message, hmacs, allowed) for c in ingests):
            raise StaleBatch("a subject's former identifier: read before matching")
        return BatchContext(allowed, {}, subjects, {}, hmacs, assumed=True)

    def _under_former(
        self, message: LabMessage, hmacs: Mapping[str, str], allowed: dict[SourceKey, Sender]
    ) -> bool:
        """Whether a number the message is matched by (PID-3's: PID-4's never, review 201)
        was a subject's before a correction, as last read, and names nobody remembered
        enrolled at the sender's site (another site's patient under it hides nothing)."""
        site = site_of(message, allowed)
        return any(
            (h := hmacs[number]) in self._former
            and match_subject(self._enrolled.get(h, ()), site) is None
            for number in identifiers_to_hash(message)
        )

    async def load(
        self,
        uow: Any,
        ingests: list[IngestLabMessage],
        allowed: dict[SourceKey, Sender],
        *,
        replaying: bool = False,
        named: NamedResults = NOTHING_NAMED,
    ) -> BatchContext:
        """A batch context as the database holds it now (the caller holds the chain lock);
        ``replaying``: with when each result key's chain last changed (``replayed_chains``);
        ``named``: the stored results its FHIR identifiers name, whose chains it reads too
        (a result may be keyed as any as it is planned: ``result_keys.keyed_as_planned``)."""
        messages = [c.message for c in ingests]
        hmacs = self._hmacs(ingests)
        result_keys = [(m.source, o.result_key) for m in messages for o in m.observations]
        # and the keys results stored before 7a953a8 are under (``legacy_keys``)
        result_keys += [
            (m.source, legacy)
            for m in messages if has_legacy_keys(m)
            for o in m.observations if (legacy := legacy_key_of(o)) is not None
        ]  # fmt: skip
        if named.to_read:  # the stored results its FHIR identifiers name, each once
            reading = set(result_keys)
            result_keys += [key for key in named.to_read if key not in reading]
        siblings = _bundle_siblings(ingests, frozenset(result_keys))
        message_keys = list(dict.fromkeys((m.source, m.control_id) for m in messages + siblings))
        lookup = await uow.labs.lookup(
            message_keys, list(hmacs.values()), result_keys, change_times=replaying
        )
        self._remember(hmacs.values(), lookup.subjects, lookup.withdrawn, lookup.former)
        read_empty = frozenset(result_keys) - lookup.held
        # a result is checked where its key holds no standing final one, a withdrawn one
        # too (``copies_elsewhere``, ``BatchContext.unheld``: review 209), or none once an
        # earlier withdrawal of the batch freed it (review 226: ``freed_in_batch``), or a
        # withdrawal may find there only its patient's withdrawn preliminary beside another
        # patient's result (review 245: ``withdrawn_beside``)
        unfinished = frozenset(key for key in result_keys if key not in lookup.latest)
        freed = freed_in_batch(messages, lookup.latest.keys())
        beside = withdrawn_beside(messages, lookup.latest, lookup.withdrawn_versions)
        elsewhere = await _stored_elsewhere(
            uow, messages, lookup.subjects.values(), read_empty | unfinished | freed | beside
        )
        return BatchContext(
            allowed=allowed,
            known=lookup.known,
            subjects=lookup.subjects,
            latest=lookup.latest,
            hmacs=hmacs,
            preliminary=dict(lookup.preliminary),
            stored_preliminary=lookup.preliminary,
            withdrawn=lookup.withdrawn,
            received=dict(lookup.received),
            withdrawn_versions=dict(lookup.withdrawn_versions),
            read_empty=read_empty,
            changed_at=dict(lookup.changed_at) if replaying else None,
            stored_elsewhere=elsewhere,
            named=named,
            former=lookup.former,
            former_samples=await former_samples(
                uow, ingests, hmacs, lookup.subjects, lookup.former, allowed=allowed
            ),
        )

    def _remember(
        self,
        hmacs: Iterable[str],
        subjects: Mapping[str, tuple[EnrolledSubject, ...]],
        withdrawn: Mapping[str, object],
        former: Mapping[str, object],
    ) -> None:
        """Who is enrolled under each hash read, for the fast path; and who withdrawn, and
        whose former number it is (read again each time, never assumed)."""
        for hmac in hmacs:
            if hmac in subjects:
                self._enrolled[hmac] = subjects[hmac]
            else:
                self._enrolled.pop(hmac, None)
            for known, found in ((self._withdrawn, withdrawn), (self._former, former)):
                if hmac in found:
                    known.add(hmac)
                else:
                    known.discard(hmac)

    def _hmacs(self, ingests: list[IngestLabMessage]) -> dict[str, str]:
        """Each number's keyed hash: the numbers the messages are matched by, and PID-4's
        (``alternate_ids``: their enrolment checked, as any, by the fast path's write, in
        its round trip; never whether they are former numbers)."""
        return {
            identifier: self._hash(identifier)
            for c in ingests
            for identifier in (*identifiers_to_hash(c.message), *alternates_to_hash(c.message))
        }


async def _stored_elsewhere(
    uow: Any,
    messages: Sequence[LabMessage],
    enrolled: Iterable[tuple[EnrolledSubject, ...]],
    empty: frozenset[SourceKey],
) -> StoredElsewhere:
    """The batch's patients' standing results its results may be copies of, or meant for,
    under other senders' names (``copies_elsewhere``), and their withdrawn ones (a
    withdrawal of one withdrawn already is a duplicate), and the keyed hash a result's keys
    and parts are stored as; one more read (the patients' results of those analytes), only
    for a batch holding such a result whose key the read found holding no row, or (a final
    result's) no final one, or one the batch may free before it (``empty``)."""
    analytes = [
        identified[0].value
        for m in messages for o in m.observations
        if (m.source, o.result_key) in empty and checked_elsewhere(o, m.channel)
        and (identified := identify_analyte(o.codes)) is not None
    ]  # fmt: skip
    subject_ids = sorted({subject.subject_id for subjects in enrolled for subject in subjects})
    if not analytes or not subject_ids:
        return NOTHING_ELSEWHERE
    standing, withdrawn = await uow.labs.subjects_results(subject_ids, analytes)
    if not standing and not withdrawn:
        return NOTHING_ELSEWHERE
    # each result's keys and parts are taken from all its identifiers as it is planned,
    # whatever key it is planned under by then (``StoredElsewhere.keys_of``, review 237)
    return StoredElsewhere(standing, withdrawn=withdrawn, stored_form=uow.labs.stored_key)


def _bundle_siblings(
    ingests: Sequence[IngestLabMessage], result_keys: frozenset[SourceKey]
) -> list[LabMessage]:
    """The other versions, in the Bundles of the batch's messages, of the results the batch
    reads: whether they were stored before tells a Bundle sent again whole
    (``bundle_resends``). Each Bundle once, though each of its entries in the batch holds it
    (entries x entries work otherwise)."""
    bundles = {id(c.bundle): c.bundle for c in ingests if c.bundle}
    return [
        m
        for bundle in bundles.values()
        for m in bundle
        if any((m.source, o.result_key) in result_keys for o in m.observations)
    ]


def messages_of(commands: Sequence[Command]) -> list[IngestLabMessage]:
    """Every message the batch may store, those of transactions too."""
    ingests = [c for c in commands if isinstance(c, IngestLabMessage)]
    ingests += [
        IngestLabMessage(m, c.redact, c.received_at, check_source=False)
        for c in commands
        if isinstance(c, IngestTransaction)
        for m in c.messages
    ]
    # a failed transaction kept: who its patients are decides what of its copy is kept
    ingests += [
        IngestLabMessage(m, _nothing, c.received_at, check_source=False)
        for c in commands
        if isinstance(c, RecordRejectedInput) and c.redact_without is not None
        for m in c.messages
    ]
    return ingests


def _nothing() -> str:
    return ""
