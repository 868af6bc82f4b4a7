"""BatchIngestor's two paths, against a hand-written in-memory database.

The fast path plans a batch without reading; the fake refuses a write whose assumptions do
not hold (as ``assert_batch_current`` and the unique key do), and the batch must then be
planned again from a fresh read and stored exactly as the careful path alone would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Self
from unittest.mock import patch

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.batch_lookup import BatchLookup
from services.lab_ingestion.domain.copies_elsewhere import (
    SAME_SAMPLE,
    across_feeds,
    of_one_laboratory,
    said_by,
)
from services.lab_ingestion.domain.fhir_cancellations import StandingResult
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    RejectionCode,
    StaleBatch,
)
from services.lab_ingestion.domain.planning import content_of
from services.lab_ingestion.domain.records import (
    BatchAssumptions,
    EarlierResult,
    EnrolledSubject,
    MessageRecord,
    ResultRecord,
    Sender,
    WithdrawnSubject,
    WithdrawnVersion,
)
from services.lab_ingestion.domain.result_identifiers import StoredResult
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Channel

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
SITE = "CH-01"
CRP = (Coding("1988-5", "http://loinc.org"),)


@dataclass
class FakeDatabase:
    enrolled: dict[str, str] = field(default_factory=dict)  # hmac -> subject at SITE
    more_enrolled: list[tuple[str, EnrolledSubject]] = field(default_factory=list)  # by hmac
    withdrawn: dict[str, WithdrawnSubject] = field(default_factory=dict)  # by hmac
    former: dict[str, str] = field(default_factory=dict)  # hmac -> subject at SITE it was of
    sender_site: str | None = None  # of the sender LIS^HOSP
    messages: dict[tuple[str, str], MessageRecord] = field(default_factory=dict)
    results: list[ResultRecord] = field(default_factory=list)
    cancelled: set[uuid.UUID] = field(default_factory=set)
    withdrawn_at: dict[uuid.UUID, datetime] = field(default_factory=dict)  # when cancelled
    withdrawn_by: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # by which message
    events: list[tuple[str, Any]] = field(default_factory=list)  # committed outbox events
    time_zone: str | None = None  # of the sender LIS^HOSP
    identifier_authority: str | None = None  # of the sender LIS^HOSP
    other_authority_names: tuple[str, ...] = ()  # of its authority (FHIR's system, say)
    lookups: int = 0
    refused: int = 0
    replans: int = 0
    locked: bool = False  # a unit of work holds the chain lock
    unlocked_lookups: int = 0  # careful-path reads made without it
    # another instance's batch, written between a batch's read and its write (once each)
    meanwhile: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def enrolled_under(self, hmac: str) -> tuple[EnrolledSubject, ...]:
        first = (EnrolledSubject(self.enrolled[hmac], SITE),) if hmac in self.enrolled else ()
        return first + tuple(s for h, s in self.more_enrolled if h == hmac)

    def standing(
        self,
        source: str,
        key: str,
        statuses: frozenset[str] | set[str] = frozenset("FC"),
        *,
        subject: str | None = None,
    ) -> ResultRecord | None:
        """The head of the key's chain: its newest standing final or corrected result (or,
        with ``statuses`` P, its newest standing preliminary one; ``subject``: the patient's
        only)."""
        found = [
            r
            for r in self.results
            if (r.source, r.result_key) == (source, key)
            and r.status in statuses
            and r.cancelled_at is None
            and r.result_id not in self.cancelled
            and subject in (None, r.subject_id)
        ]
        return found[-1] if found else None

    def cancel_chains(self, withdrawals: Any, at: datetime | None = None) -> None:
        """As the write statement: a cancellation withdraws every stored version (same
        patient), each naming the message whose cancellation it is (a chain named twice:
        the first's); rows the same write adds are not seen (the statement's snapshot)."""
        chains: dict[tuple[str, str, str], uuid.UUID] = {}
        for withdrawal in withdrawals:
            for r in self.results:
                if r.result_id == withdrawal.result_id:
                    chains.setdefault((r.source, r.result_key, r.subject_id), withdrawal.message_id)
        withdrawn = {
            r.result_id: chains[(r.source, r.result_key, r.subject_id)]
            for r in self.results
            if (r.source, r.result_key, r.subject_id) in chains
        }
        for result_id in withdrawn.keys() - self.cancelled:
            self.withdrawn_at[result_id] = at or datetime.now(UTC)
            self.withdrawn_by[result_id] = withdrawn[result_id]
        self.cancelled.update(withdrawn)

    def changed_at(self, source: str, key: str) -> datetime | None:
        """As the lookup's change times: the latest arrival of a message that stored a
        version under the key, or withdrawal of one (None: the key holds no row)."""
        arrivals = {m.message_id: m.received_at for m in self.messages.values()}
        times = [
            max(arrivals[r.message_id], self.withdrawn_at.get(r.result_id, arrivals[r.message_id]))
            for r in self.results
            if (r.source, r.result_key) == (source, key)
        ]
        return max(times, default=None)


class FakeLabs:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._staged: tuple[Any, ...] = ()

    @property
    def db(self) -> FakeDatabase:
        return self._db

    async def allowed_sources(self) -> dict[tuple[str, str], Sender]:
        db = self._db
        sender = Sender(
            db.time_zone, db.sender_site, db.identifier_authority, db.other_authority_names
        )
        return {("LIS", "HOSP"): sender}

    resolved_prefix = ""  # keys are kept as written here: a stored key is a written one

    def stored_key(self, key: str) -> str:
        return key

    async def stored_results(self, keys: Any) -> dict[tuple[str, str], StoredResult]:
        """As the repository's read: results stored under the key itself, with the analytes
        and the patients' hashes stored there."""
        found = {}
        for source, key in keys:
            rows = [r for r in self._db.results if (r.source, r.result_key) == (source, key)]
            if rows:
                subjects = {r.subject_id for r in rows}
                patients = frozenset(
                    h for h, s in self._db.enrolled.items() if s in subjects
                ) | frozenset(h for h, e in self._db.more_enrolled if e.subject_id in subjects)
                analytes = frozenset(r.result.analyte.value for r in rows)
                found[(source, key)] = StoredResult(key, analytes, patients)
        return found

    async def subjects_results(
        self, subject_ids: Any, analytes: Any
    ) -> tuple[dict[str, list[StandingResult]], dict[str, list[StandingResult]]]:
        """As the repository's read: each subject's standing results of the analytes, and
        its withdrawn ones, with their keys' parts (keys as written here), channels and
        whether each heads its chain."""
        channels = {m.message_id: m.channel for m in self._db.messages.values()}
        feeds = {m.message_id: m.feed_of for m in self._db.messages.values()}
        superseding = {
            r.supersedes_result_id for r in self._db.results
            if r.status in ("F", "C") and not self._gone(r)
        }  # fmt: skip
        standing: dict[str, list[StandingResult]] = {}
        withdrawn: dict[str, list[StandingResult]] = {}
        for r in self._db.results:
            if r.subject_id in subject_ids and r.result.analyte.value in analytes:
                gone = self._gone(r)
                found = StandingResult(
                    r.source,
                    r.result_key,
                    r.result.analyte.value,
                    r.identifier_parts,
                    r.status,
                    r.collected_at,
                    channels.get(r.message_id, "mllp"),
                    said_by(r.result.value, r.result.unit, r.result.comparator),
                    not gone and r.status in ("F", "C") and r.result_id not in superseding,
                    r.result_id,  # as the repository reads it: a batch's withdrawal finds it
                    feeds.get(r.message_id),
                )
                (withdrawn if gone else standing).setdefault(r.subject_id, []).append(found)
        return standing, withdrawn

    def _gone(self, result: ResultRecord) -> bool:
        """Withdrawn, as the repository reads ``cancelled_at``: by a later batch, or by the
        batch that stored it (a result its own message withdrew)."""
        return result.cancelled_at is not None or result.result_id in self._db.cancelled

    async def lookup(
        self, message_keys: Any, hmacs: Any, result_keys: Any, *, change_times: bool = False
    ) -> BatchLookup:
        self._db.lookups += 1
        self._db.unlocked_lookups += not self._db.locked
        lookup = BatchLookup()
        lookup.known = {k: self._db.messages[k].content_digest for k in message_keys
                        if k in self._db.messages}  # fmt: skip
        lookup.received = {k: self._db.messages[k].received_at for k in lookup.known}
        lookup.subjects = {h: self._db.enrolled_under(h) for h in hmacs
                           if self._db.enrolled_under(h)}  # fmt: skip
        lookup.withdrawn = {h: (self._db.withdrawn[h],) for h in hmacs if h in self._db.withdrawn}
        lookup.former = {h: (EnrolledSubject(self._db.former[h], SITE),) for h in hmacs
                         if h in self._db.former}  # fmt: skip
        for source, key in result_keys:
            if any((r.source, r.result_key) == (source, key) for r in self._db.results):
                lookup.held.add((source, key))  # any row, of any patient and status
            head = self._db.standing(source, key)
            if head is not None:
                content = content_of(head.result, head.collected_at)
                lookup.latest[(source, key)] = EarlierResult(
                    head.result_id, head.subject_id, head.result.analyte.value,
                    head.collected_at, content, self._versions(source, key) - {content},
                    head.reported_at, self._reports(source, key), head.report_field,
                    head.status,
                )  # fmt: skip
            changed = self._db.changed_at(source, key) if change_times else None
            if changed is not None:
                lookup.changed_at[(source, key)] = changed
            withdrawn = self._withdrawn(source, key)
            if withdrawn:
                lookup.withdrawn_versions[(source, key)] = withdrawn
            for subject in {r.subject_id for r in self._db.results}:  # each patient's newest
                preliminary = self._db.standing(source, key, {"P"}, subject=subject)
                if preliminary is not None:
                    lookup.preliminary[(source, key, subject)] = EarlierResult(
                        preliminary.result_id, subject, preliminary.result.analyte.value,
                        preliminary.collected_at,
                    )  # fmt: skip
        return lookup

    def _withdrawn(self, source: str, key: str) -> frozenset[WithdrawnVersion]:
        """What every withdrawn version under the key said, each patient's (a preliminary's:
        None), as the lookup reads it."""
        return frozenset(
            WithdrawnVersion(
                r.subject_id, r.result.analyte.value,
                None if r.status == "P" else content_of(r.result, r.collected_at),
            )
            for r in self._db.results
            if (r.source, r.result_key) == (source, key)
            and (r.cancelled_at is not None or r.result_id in self._db.cancelled)
        )  # fmt: skip

    def _versions(self, source: str, key: str) -> frozenset[Any]:
        """What every standing final or corrected version under the key says."""
        return frozenset(content_of(r.result, r.collected_at) for r in self._standing(source, key))

    def _reports(self, source: str, key: str) -> frozenset[Any]:
        """What every standing final or corrected version under the key says, reported when
        and read from which field (those with a report time)."""
        return frozenset(
            (content_of(r.result, r.collected_at), r.reported_at, r.report_field)
            for r in self._standing(source, key)
            if r.reported_at is not None
        )

    def _standing(self, source: str, key: str) -> list[ResultRecord]:
        return [
            r for r in self._db.results
            if (r.source, r.result_key) == (source, key) and r.status in "FC"
            and r.cancelled_at is None and r.result_id not in self._db.cancelled
        ]  # fmt: skip

    def stage(
        self, messages: Any, results: Any, cancellations: Any, *rest: Any, assumptions: Any = None
    ) -> None:
        cancelled_at = rest[1] if len(rest) > 1 else None
        self._staged = (messages, results, cancellations, assumptions, cancelled_at)

    def write(self) -> None:
        messages, results, cancellations, assumed, cancelled_at = self._staged
        if any((m.source, m.control_id) in self._db.messages for m in messages) or (
            assumed is not None and not self._holds(assumed)
        ):
            self._db.refused += 1
            raise StaleBatch("refused")
        self._db.messages.update({(m.source, m.control_id): m for m in messages})
        self._db.cancel_chains(cancellations, cancelled_at)  # as the statement: committed only
        self._db.results.extend(results)

    def _holds(self, assumed: BatchAssumptions) -> bool:
        subjects_hold = all(  # as migration 0012: never assumed where one was withdrawn
            self._db.enrolled_under(h) == ((s,) if s else ()) and h not in self._db.withdrawn
            for h, s in assumed.subjects
        )
        # as migration 0018: a key that ever held a result, of any status, is read first; a
        # careful batch names the keys it writes that its read found holding none, and no
        # subject (``BatchContext.assumptions``): refused if another writer stored there since
        keys_new = not any(
            (r.source, r.result_key) in set(assumed.new_result_keys) for r in self._db.results
        )
        # as migration 0039: the lab's other feed holds not, nor held (0038: a withdrawn
        # one too), the sample of a final result taken for new (a FHIR result's lab: its
        # token's bound HL7 sender, or any)
        messages = {m.message_id: m for m in self._db.messages.values()}
        unheld = not any(
            r.source != u.source and r.subject_id == u.subject_id
            and (m := messages.get(r.message_id)) is not None and across_feeds(u.channel, m.channel)
            and of_one_laboratory(u.source, u.feed_of, r.source, m.feed_of)
            and r.result.analyte.value == u.analyte and r.status in "FC"
            and u.part in r.identifier_parts
            and abs(r.collected_at - u.collected_at) < SAME_SAMPLE
            for u in assumed.unheld_samples for r in self._db.results
        )  # fmt: skip
        # as migration 0035: no number whose messages it discarded is a subject's former one
        no_former = not any(h in self._db.former for h in assumed.discarded)
        return subjects_hold and keys_new and unheld and no_former


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def add(self, topic: str, envelope: Any) -> None:
        self.events.append((topic, envelope))


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.labs = FakeLabs(db)
        self.outbox = FakeOutbox()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.labs.db.locked = False  # the transaction ends: committed or rolled back

    async def serialise_chains(self) -> None:
        assert not self.labs.db.locked, "one unit of work at a time holds the chain lock"
        self.labs.db.locked = True

    async def commit(self) -> None:
        if self.labs.db.meanwhile:
            await self.labs.db.meanwhile.pop(0)()
        self.labs.write()
        self.labs.db.events.extend(self.outbox.events)


def ingestor(db: FakeDatabase) -> BatchIngestor:
    def replanned() -> None:
        db.replans += 1

    return BatchIngestor(
        lambda: FakeUnitOfWork(db), lambda identifier: f"h({identifier})", on_replan=replanned
    )


def message(
    control_id: str, mrn: str = "MRN1", status: str = "F", key: str = "", *, value: str = "12"
) -> IngestLabMessage:
    observation = ObservationInput(
        key or f"K-{control_id}", CRP, value, ("mg/L",), status=status, collected_at=AT
    )
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, mrn, (observation,))
    return IngestLabMessage(lab, lambda: "", AT)


def collected_locally(local: datetime) -> IngestLabMessage:
    """Message "1" with its collection time written without an offset (read in the
    sender's zone)."""
    command = message("1")
    observation = dataclasses.replace(
        command.message.observations[0], collected_at=None, collected_local=local
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    return IngestLabMessage(lab, lambda: "", AT)


async def test_a_known_subject_is_matched_without_a_read() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    first = await ingest([message("1")])  # nobody remembered yet: refused, read, stored
    second = await ingest([message("2")])
    assert [o.results for o in first + second] == [1, 1]
    assert (db.lookups, db.replans) == (1, 1)
    assert [r.subject_id for r in db.results] == ["S-1", "S-1"]


async def test_a_patient_nobody_enrolled_is_discarded_without_a_read() -> None:
    db = FakeDatabase()
    outcomes = await ingestor(db)([message("1", mrn="MRN9")])
    assert not outcomes[0].enrolled
    assert db.lookups == 0
    assert db.messages == {} and db.results == []


async def test_a_subject_enrolled_since_the_last_read_is_not_discarded() -> None:
    db = FakeDatabase()
    ingest = ingestor(db)
    await ingest([message("1")])  # MRN1 not enrolled then
    db.enrolled["h(MRN1)"] = "S-1"
    outcomes = await ingest([message("2")])
    assert outcomes[0].enrolled and outcomes[0].results == 1
    assert db.results[-1].subject_id == "S-1"


async def test_a_result_sent_before_its_enrolment_arrived_is_stored_when_resent() -> None:
    """The lab's message beat ``SubjectEnrolled`` to this service: discarded then, its
    resend (same control id) must be stored, not answered as a duplicate of nothing."""
    db = FakeDatabase()
    ingest = ingestor(db)
    (first,) = await ingest([message("1")])
    db.enrolled["h(MRN1)"] = "S-1"
    (resent,) = await ingest([message("1")])
    assert not first.enrolled
    assert resent.enrolled and not resent.duplicate and resent.results == 1
    assert [r.subject_id for r in db.results] == ["S-1"]


async def test_a_sender_with_a_site_matches_only_that_sites_subjects() -> None:
    """Hospital numbers are unique per hospital: MRN1 of site CH-02's hospital is not the
    subject S-1 of site CH-01, whose hospital gave that subject the same number."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, sender_site="CH-02")
    (outcome,) = await ingestor(db)([message("1")])
    assert outcome.accepted and not outcome.enrolled
    assert db.results == [] and db.messages == {}


async def test_an_identifier_that_names_several_subjects_is_never_matched_to_one() -> None:
    """Two sites' subjects share a hospital number, and the sender has no site: the result
    could be either person's, so the message is rejected, on the fast path as well."""
    other = [("h(MRN1)", EnrolledSubject("S-9", "CH-02"))]
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, more_enrolled=other)
    ingest = ingestor(db)
    outcomes = [*await ingest([message("1")]), *await ingest([message("2")])]
    assert [o.code for o in outcomes] == [RejectionCode.AMBIGUOUS_PATIENT] * 2
    assert "2 enrolled subjects" in outcomes[0].reason
    assert db.results == []
    db.sender_site = "CH-02"
    ingest = ingestor(db)  # reads the sender's site afresh
    (matched,) = await ingest([message("3")])
    assert matched.results == 1 and db.results[-1].subject_id == "S-9"


async def test_a_second_subject_enrolled_under_a_remembered_identifier_is_noticed() -> None:
    """The fast path assumed MRN1 is S-1 alone; the write's guard sees S-9 as well."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1")])
    db.more_enrolled.append(("h(MRN1)", EnrolledSubject("S-9", "CH-02")))
    (outcome,) = await ingest([message("2")])
    assert outcome.code is RejectionCode.AMBIGUOUS_PATIENT
    assert db.refused >= 1 and len(db.results) == 1


async def test_a_withdrawn_subject_is_no_longer_matched() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1")])
    del db.enrolled["h(MRN1)"]
    outcomes = await ingest([message("2")])
    assert not outcomes[0].enrolled
    assert len(db.results) == 1


async def test_a_message_stored_before_is_acknowledged_as_a_duplicate_and_kept_once() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1")])
    outcomes = await ingest([message("1"), message("2")])
    assert [o.duplicate for o in outcomes] == [True, False]
    assert len(db.results) == 2


def recorded(db: FakeDatabase) -> list[tuple[str, float, int | None]]:
    """The results emitted: status, value and the position of the result superseded."""
    position: dict[str, int] = {}
    emitted = []
    for _, envelope in db.events:
        if envelope.event_type != "LabResultRecorded":
            continue
        payload = envelope.payload
        position[str(payload["result_id"])] = len(position)
        superseded = payload["supersedes_result_id"]
        emitted.append(
            (payload["status"], payload["value"], superseded and position[str(superseded)])
        )
    return emitted


@pytest.mark.parametrize(("stored", "late_value"), [(["F"], "41"), (["F", "C"], "41")])
async def test_a_final_result_never_replaces_a_final_or_corrected_one(
    stored: list[str], late_value: str
) -> None:
    """F 40 (then C 4), then another F under a new message id (a changed value sent as
    final): the standing result stays, no final result is emitted again, and the lab is told
    that only a correction changes a final result (HL7 table 0085)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for n, status in enumerate(stored):
        await ingest([message(f"s{n}", status=status, key="K", value="40" if n == 0 else "4")])
    before = recorded(db)
    (late,) = await ingest([message("late", key="K", value=late_value)])
    assert not late.accepted and late.code is RejectionCode.OTHER_SAMPLES_RESULT
    assert "as a correction (OBX-11 C" in late.reason
    assert recorded(db) == before  # still ends on the standing result
    assert len(db.results) == len(stored) and ("LIS^HOSP", "late") not in db.messages
    assert [t for t, _ in db.events].count("lab.rejected.v1") == 1  # kept as a rejection


@pytest.mark.parametrize("stored", [["F"], ["F", "C"]])
async def test_a_final_result_restating_the_stored_one_under_a_new_id_is_a_duplicate(
    stored: list[str],
) -> None:
    """An interface engine resending the standing result under a new message id: read from
    the database, it says the same, so nothing is stored or emitted and it is answered as a
    duplicate, whether or not it shares a batch with the original."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for n, status in enumerate(stored):
        await ingest([message(f"s{n}", status=status, key="K", value="40" if n == 0 else "4")])
    before, results = recorded(db), len(db.results)
    standing = "40" if stored == ["F"] else "4"
    (again,) = await ingest([message("again", key="K", value=standing)])
    assert again.accepted and again.duplicate and again.results == 0
    assert recorded(db) == before and len(db.results) == results


@pytest.mark.parametrize("same_batch", [False, True])
async def test_a_delayed_copy_of_the_original_after_its_correction_is_a_duplicate(
    same_batch: bool,
) -> None:
    """F 40, C 4 (then C 5), then the original F 40 again under a new message id (an
    interface engine's delayed copy): it changes nothing, so it is answered as a duplicate;
    rejecting it would ask the lab for a correction that could undo the standing one."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    sent = [message("s0", key="K", value="40"), message("s1", status="C", key="K", value="4"),
            message("s2", status="C", key="K", value="5")]  # fmt: skip
    late = message("late", key="K", value="40")
    if same_batch:
        outcomes = await ingest([*sent, late])
    else:
        outcomes = [*[o for m in sent for o in await ingest([m])], *await ingest([late])]
    assert all(o.accepted for o in outcomes) and outcomes[-1].duplicate
    assert [(status, value) for status, value, _ in recorded(db)] == [
        ("final", 40.0), ("corrected", 4.0), ("corrected", 5.0),
    ]  # fmt: skip
    assert len(db.results) == 3 and db.messages[("LIS^HOSP", "late")].result_count == 0
    assert "lab.rejected.v1" not in [t for t, _ in db.events]


async def test_a_final_result_restating_one_of_its_batch_is_a_duplicate() -> None:
    """The same final result under two message ids in one batch: stored and emitted once,
    the second answered as a duplicate; another value is rejected, never emitted."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    outcomes = await ingestor(db)(
        [message("1", key="K"), message("2", key="K"), message("3", key="K", value="13")]
    )
    assert [(o.accepted, o.duplicate, o.results) for o in outcomes[:2]] == [
        (True, False, 1),
        (True, True, 0),
    ]
    assert outcomes[2].code is RejectionCode.OTHER_SAMPLES_RESULT
    assert recorded(db) == [("final", 12.0, None)]
    # the duplicate's id is kept, with no result: sent again, it is answered so again
    assert sorted((m.control_id, m.result_count) for m in db.messages.values()) == [
        ("1", 1), ("2", 0),
    ]  # fmt: skip


@pytest.mark.parametrize(("second", "stored"), [("4", 0), ("40", 1)])
async def test_two_results_under_one_key_in_a_message_are_never_both_emitted(
    second: str, stored: int
) -> None:
    """Two OBX of one test in one OBR with no sub-id: disagreeing, the message is rejected
    (as any message with an unusable result); the same twice is stored once."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    first = message("1", key="K", value="40")
    repeated = dataclasses.replace(first.message.observations[0], value=second)
    lab = dataclasses.replace(first.message, observations=(*first.message.observations, repeated))
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert outcome.accepted is bool(stored) and outcome.results == stored
    assert recorded(db) == [("final", 40.0, None)] * stored
    if not stored:
        assert outcome.code is RejectionCode.OTHER_SAMPLES_RESULT
        assert "sub-id (OBX-4)" in outcome.reason


async def test_a_final_result_after_a_preliminary_one_is_a_new_final_result() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", status="P", key="K", value="30")])
    (final,) = await ingest([message("2", key="K", value="40")])
    assert final.accepted and final.results == 1
    assert recorded(db) == [("final", 40.0, None)]
    (corrected,) = await ingest([message("3", status="C", key="K", value="4")])
    assert corrected.results == 1
    assert recorded(db) == [("final", 40.0, None), ("corrected", 4.0, 0)]


async def test_a_final_result_of_another_sample_under_a_used_key_is_rejected() -> None:
    """Order K held the 20 Nov sample; a final result of an 18 Nov sample under K would
    supersede it, and the other value would vanish from the subject's CRP series."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="K")])
    later = message("2", key="K")
    observation = dataclasses.replace(
        later.message.observations[0], collected_at=AT - timedelta(days=2)
    )
    later = dataclasses.replace(
        later, message=dataclasses.replace(later.message, observations=(observation,))
    )
    (outcome,) = await ingest([later])
    assert outcome.code is RejectionCode.OTHER_SAMPLES_RESULT
    # the lab is told to use a new order number, never to send a correction (review 70:
    # a correction would hide the earlier sample's value)
    assert "collected at another time" in outcome.reason
    assert "new sample needs an order number of its own" in outcome.reason
    assert not outcome.reason.startswith("send a changed final result as a correction")
    corrected = dataclasses.replace(
        later.message, control_id="3",
        observations=(dataclasses.replace(observation, status="C"),),
    )  # fmt: skip
    (correction,) = await ingest([dataclasses.replace(later, message=corrected)])
    assert correction.results == 1  # a correction may fix the collection time
    assert [r.collected_at for r in db.results] == [AT, AT - timedelta(days=2)]


async def test_corrections_take_the_careful_path_at_once() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="K")])
    lookups, refused = db.lookups, db.refused
    await ingest([message("2", status="C", key="K")])
    assert (db.lookups, db.refused) == (lookups + 1, refused)
    assert db.results[-1].supersedes_result_id == db.results[0].result_id
    assert isinstance(db.results[0].result_id, uuid.UUID)


async def test_the_careful_path_reads_only_while_holding_the_chain_lock() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="K")])  # refused on the fast path, then read
    await ingest([message("2", status="C", key="K")])
    assert db.lookups == 2 and db.unlocked_lookups == 0
    assert not db.locked


async def test_a_message_another_instance_stored_first_is_answered_as_a_duplicate() -> None:
    """Resent to two instances at once: this instance's write (on the careful path, for the
    correction beside it) is refused, read again, and the message is a duplicate here, never
    a failure that the lab would be told to fix."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest, other = ingestor(db), ingestor(db)
    await ingest([message("1", key="K")])
    await other([message("2")])  # the other instance remembers S-1: it takes the fast path

    async def other_instance_stores_it() -> None:
        (stored,) = await other([message("4")])
        assert stored.results == 1

    db.meanwhile = [other_instance_stores_it]
    corrected, resent = await ingest([message("3", status="C", key="K"), message("4")])
    assert corrected.results == 1
    assert resent.accepted and resent.duplicate
    assert len(db.messages) == len(db.results) == 4 and db.unlocked_lookups == 0


async def test_a_token_bound_to_senders_delivers_only_as_them() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    own = dataclasses.replace(message("1"), permitted_senders=frozenset({"LIS^HOSP"}))
    other = dataclasses.replace(message("2"), permitted_senders=frozenset({"LIS^ELSE"}))
    accepted, refused = await ingest([own, other])
    assert accepted.results == 1
    assert refused.code is RejectionCode.UNKNOWN_SOURCE and "this token" in refused.reason
    assert len(db.results) == 1


async def test_a_result_key_holding_another_patients_result_is_never_crossed() -> None:
    """A wrong-patient fix (or two orders sharing a number) must not supersede or withdraw
    another patient's result: the message is rejected and the other result stands."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    ingest = ingestor(db)
    await ingest([message("1", mrn="MRN1", key="K")])
    outcomes = await ingest(
        [message("2", mrn="MRN2", status="C", key="K"),
         message("3", mrn="MRN2", status="D", key="K"),
         message("4", mrn="MRN2", status="F", key="K")]
    )  # fmt: skip
    assert [o.code for o in outcomes] == [RejectionCode.OTHER_PATIENTS_RESULT] * 3
    assert len(db.results) == 1 and not db.cancelled
    assert db.standing("LIS^HOSP", "K") == db.results[0]


async def test_a_correction_or_deletion_of_no_stored_result_is_rejected() -> None:
    """(An X, "results cannot be obtained", under a key that never held anything is a first
    report with nothing to withdraw: test_result_statuses_without_a_result.)"""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    outcomes = await ingestor(db)(
        [message("1", status="C", key="K"), message("2", status="D", key="L"),
         message("3", status="W", key="M")]
    )  # fmt: skip
    assert [o.code for o in outcomes] == [RejectionCode.UNKNOWN_CORRECTED_RESULT] * 3
    assert "correction" in outcomes[0].reason and "cancellation" in outcomes[1].reason
    assert db.results == []


async def test_a_preliminary_result_does_not_stand_between_a_final_and_its_correction() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for control_id, status in (("1", "F"), ("2", "P"), ("3", "C")):
        await ingest([message(control_id, status=status, key="K")])
    final, _, corrected = db.results
    assert corrected.supersedes_result_id == final.result_id


@pytest.mark.parametrize(
    ("status", "reason"),
    [("D", "deleted"), ("X", "cannot-be-obtained"), ("W", "deleted")],  # W: posted as wrong
)
async def test_a_cancellation_withdraws_every_version_of_the_result(
    status: str, reason: str
) -> None:
    """HL7 table 0085: D deletes the result, X says it cannot be obtained, W posts the
    original as wrong (sent for the wrong patient): each withdraws it, with an event."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for control_id, sent in (("1", "F"), ("2", "C"), ("3", status)):
        (outcome,) = await ingest([message(control_id, status=sent, key="K")])
        assert outcome.accepted, outcome
    assert {r.result_id for r in db.results} <= db.cancelled
    assert db.standing("LIS^HOSP", "K") is None
    cancelled = [e.payload for _, e in db.events if e.event_type == "LabResultCancelled"]
    assert [c["reason"] for c in cancelled] == [reason]


async def test_a_patient_not_enrolled_is_discarded_before_the_results_are_checked() -> None:
    """No rejection row (it would keep the patient's message) for someone not enrolled."""
    db = FakeDatabase()
    unusable = message("1", mrn="MRN9")
    observation = unusable.message.observations[0]
    lab = dataclasses.replace(
        unusable.message, observations=(dataclasses.replace(observation, unit=("mg/mL",)),)
    )
    outcomes = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert outcomes[0].accepted and not outcomes[0].enrolled
    assert db.messages == {}


async def test_a_withdrawal_in_the_batch_of_the_versions_it_withdraws_cancels_them_all() -> None:
    """F and C stored by the same batch as the D (or a stored F, then C, C, D in one batch):
    every version is withdrawn, and a later correction has nothing to correct."""
    for stored, batch in ((["F"], ["C", "C", "D"]), ([], ["F", "C", "D"])):
        db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
        ingest = ingestor(db)
        for n, status in enumerate(stored):
            await ingest([message(f"s{n}", status=status, key="K")])
        await ingest([message(f"b{n}", status=s, key="K") for n, s in enumerate(batch)])
        standing = [
            r for r in db.results if r.cancelled_at is None and r.result_id not in db.cancelled
        ]
        assert standing == [], (stored, batch)
        # (another value: the same one is a late copy of a withdrawn version)
        later = await ingest([message("later", status="C", key="K", value="13")])
        assert later[0].code is RejectionCode.UNKNOWN_CORRECTED_RESULT


async def test_a_local_time_is_read_in_the_senders_zone_across_a_clock_change() -> None:
    """Drawn 23:30 local on 24 Oct (summer time, +02:00), sent after the change: MSH-7's
    offset (+01:00) would place it an hour late; the sender's zone places it right."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, time_zone="Europe/Zurich")
    local = datetime(2026, 10, 24, 23, 30)
    command = message("1")
    observation = dataclasses.replace(
        command.message.observations[0],
        collected_at=datetime(2026, 10, 24, 22, 30, tzinfo=UTC),  # as MSH-7's +0100 read it
        collected_local=local,
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert db.results[0].collected_at == datetime(2026, 10, 24, 21, 30, tzinfo=UTC)


async def test_a_local_report_time_is_read_in_the_senders_zone_stored_and_published() -> None:
    """Reported 00:10 local on 25 Oct (summer time, +02:00), sent after the change: MSH-7's
    +01:00 put the report an hour late, in the store and on lab.results.v1."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, time_zone="Europe/Zurich")
    command = message("1")
    observation = dataclasses.replace(
        command.message.observations[0],
        collected_at=datetime(2026, 10, 24, 20, 0, tzinfo=UTC),  # sampled before the report
        reported_at=datetime(2026, 10, 24, 23, 10, tzinfo=UTC),  # as MSH-7's +0100 read it
        reported_local=datetime(2026, 10, 25, 0, 10),
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert outcome.accepted, outcome.reason
    reported = datetime(2026, 10, 24, 22, 10, tzinfo=UTC)
    assert db.results[0].reported_at == reported
    (published,) = [e.payload for _, e in db.events if e.event_type == "LabResultRecorded"]
    assert datetime.fromisoformat(str(published["reported_at"])) == reported


async def test_a_local_report_time_a_clock_change_repeats_is_dropped_not_refused() -> None:
    """A report time decides nothing: one the clock change repeats is stored and published
    as none, and the result is kept."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, time_zone="Europe/Zurich")
    command = message("1")
    observation = dataclasses.replace(
        command.message.observations[0],
        reported_at=AT,
        reported_local=datetime(2026, 10, 25, 2, 30),
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert outcome.accepted and outcome.results == 1, outcome.reason
    assert db.results[0].reported_at is None
    (published,) = [e.payload for _, e in db.events if e.event_type == "LabResultRecorded"]
    assert published["reported_at"] is None


async def test_without_a_zone_for_the_sender_the_message_offset_stands() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = message("1")
    observation = dataclasses.replace(
        command.message.observations[0],
        collected_at=datetime(2026, 10, 24, 22, 30, tzinfo=UTC),
        collected_local=datetime(2026, 10, 24, 23, 30),
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert db.results[0].collected_at == datetime(2026, 10, 24, 22, 30, tzinfo=UTC)


async def test_a_transaction_answers_for_each_of_its_messages() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="K1")])
    known, new = message("1", key="K1").message, message("2", key="K2").message
    (outcome,) = await ingest([IngestTransaction((known, new), lambda: "", AT)])
    assert outcome.accepted and outcome.results == 1
    assert [(p.duplicate, p.results) for p in outcome.parts] == [(True, 0), (False, 1)]


async def test_a_rejected_transaction_is_kept_under_its_own_rejection_id() -> None:
    """Run again after a lost commit answer, it is the same rejection and event."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    fine, unknown_status = message("1").message, message("2", status="Q").message
    transaction = IngestTransaction((fine, unknown_status), lambda: "", AT)
    for _ in range(2):
        (outcome,) = await ingestor(db)([transaction])
        assert not outcome.accepted and outcome.code is RejectionCode.UNKNOWN_STATUS
        assert outcome.failed_part == 1  # the message that failed it (FHIR names its entry)
    kept = {e.payload["rejection_id"] for topic, e in db.events if topic == "lab.rejected.v1"}
    assert kept == {str(transaction.rejection_id)}
    assert db.results == []


# ---- property: the fast path stores exactly what the careful path alone would ----------

MRNS = ("MRN1", "MRN2", "MRN3")
Step = tuple[str, Any]  # ("batch", [(control id, mrn, status, key)]), ("enrol", mrn), ...

statuses = st.sampled_from(["F", "F", "F", "P", "C", "X", "D", "W"])
one_message = st.tuples(
    st.sampled_from([str(n) for n in range(12)]), st.sampled_from(MRNS), statuses,
    st.sampled_from(["K1", "K2"]),
)  # fmt: skip
steps = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), st.lists(one_message, min_size=1, max_size=5)),
        st.tuples(st.just("enrol"), st.sampled_from(MRNS)),
        st.tuples(st.just("enrol elsewhere"), st.sampled_from(MRNS)),  # the same MRN, CH-02
        st.tuples(st.just("withdraw"), st.sampled_from(MRNS)),
    ),
    max_size=12,
)


async def replay(scenario: list[Step], *, careful_only: bool) -> tuple[Any, ...]:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    outcomes = []
    with (
        patch(f"{BatchIngestor.__module__}._fast_path_applies", return_value=False)
        if (careful_only)
        else nullcontext()
    ):
        for kind, detail in scenario:
            if kind == "enrol":
                db.enrolled[f"h({detail})"] = f"S-{detail}"
            elif kind == "enrol elsewhere":
                db.more_enrolled.append((f"h({detail})", EnrolledSubject(f"T-{detail}", "CH-02")))
            elif kind == "withdraw":
                db.enrolled.pop(f"h({detail})", None)
                db.more_enrolled = [(h, e) for h, e in db.more_enrolled if h != f"h({detail})"]
            else:
                batch = [message(c, mrn, s, k) for c, mrn, s, k in detail]
                outcomes += await ingest(batch)
    # the stored results' random ids, as how many there are (stored_state compares the rest)
    shown = [dataclasses.replace(o, result_ids=(uuid.UUID(int=0),) * len(o.result_ids))
             for o in outcomes]  # fmt: skip
    return tuple(shown), stored_state(db)


def stored_state(db: FakeDatabase) -> tuple[Any, ...]:
    """What is stored, with random ids replaced by positions."""
    position = {r.result_id: n for n, r in enumerate(db.results)}
    messages = sorted(
        (m.control_id, m.outcome, m.subject_id, m.result_count) for m in db.messages.values()
    )
    results = [
        (
            r.result_key, r.status, r.subject_id,
            position.get(r.supersedes_result_id) if r.supersedes_result_id else None,
            r.cancelled_at is not None or r.result_id in db.cancelled,
        )
        for r in db.results
    ]  # fmt: skip
    return tuple(messages), tuple(results)


@settings(max_examples=1000, deadline=None)
@given(steps)
@example(
    [("enrol", "MRN2"), ("batch", [("0", "MRN1", "F", "K2"), ("0", "MRN2", "F", "K1")]),
     ("batch", [("1", "MRN2", "F", "K1"), ("0", "MRN1", "F", "K1")])]
)  # fmt: skip  # a resent message whose key another patient took meanwhile: a duplicate
@example(
    [("batch", [("0", "MRN1", "F", "K2")]), ("enrol", "MRN2"),
     ("batch", [("0", "MRN2", "F", "K1")]),
     ("batch", [("1", "MRN2", "F", "K1"), ("0", "MRN2", "F", "K1")])]
)  # fmt: skip  # a restatement under a reused id: the id's reuse is found, not dropped unseen
def test_the_fast_path_stores_what_the_careful_path_would(scenario: list[Step]) -> None:
    fast = asyncio.run(replay(scenario, careful_only=False))
    careful = asyncio.run(replay(scenario, careful_only=True))
    assert fast == careful


async def test_an_unusable_message_from_an_unknown_sender_is_rejected_as_unknown_sender() -> None:
    """An unknown sender is answered as such (AR) whatever else is wrong with its message."""
    rejection = RecordRejectedInput(
        Channel.MLLP, RejectionCode.MULTIPLE_PATIENTS, "one patient per message", "", AT,
        source="ROGUE^LAB", sender=("ROGUE", "LAB"),
    )  # fmt: skip
    known = dataclasses.replace(rejection, source="LIS^HOSP", sender=("LIS", "HOSP"))
    over_http = dataclasses.replace(rejection, channel=Channel.HL7_HTTP, sender=None)
    outcomes = await ingestor(FakeDatabase())([rejection, known, over_http])
    assert [o.code for o in outcomes] == [
        RejectionCode.UNKNOWN_SOURCE, RejectionCode.MULTIPLE_PATIENTS,
        RejectionCode.MULTIPLE_PATIENTS,
    ]  # fmt: skip


async def test_a_local_time_a_clock_change_skips_or_repeats_is_rejected() -> None:
    """02:30 on 31 Mar does not exist in Zurich, 02:30 on 27 Oct exists twice: neither
    places a sample exactly (the 72-hour CRP window)."""
    for local in (datetime(2024, 3, 31, 2, 30), datetime(2024, 10, 27, 2, 30)):
        db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, time_zone="Europe/Zurich")
        (outcome,) = await ingestor(db)([collected_locally(local)])
        assert outcome.code is RejectionCode.MISSING_COLLECTION_TIME, local
        assert "clock change" in outcome.reason
        assert db.results == []


async def test_a_collection_time_outside_the_plausible_window_is_rejected_not_stored() -> None:
    """Year 1 at +01:00 is before UTC's first year: stored, it would fail the write and the
    message would be answered "resend" for ever; a year typo would be the latest CRP."""
    for collected in (
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(2062, 11, 20, 7, 15, tzinfo=UTC),
    ):
        db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
        command = message("1")
        observation = dataclasses.replace(command.message.observations[0], collected_at=collected)
        lab = dataclasses.replace(command.message, observations=(observation,))
        (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
        assert outcome.code is RejectionCode.IMPLAUSIBLE_TIME, collected
        assert db.results == []


async def test_a_correction_or_cancellation_of_another_analyte_is_rejected() -> None:
    """JSON keys are the sender's result ids, which need not name the test: an ALT value
    sent as a correction of a CRP result must not supersede it, nor withdraw it."""
    alt = (Coding("1742-6", "http://loinc.org"),)
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="R1")])
    outcomes = []
    for control_id, status in (("2", "C"), ("3", "X"), ("4", "F")):
        command = message(control_id, status=status, key="R1")
        observation = dataclasses.replace(command.message.observations[0], codes=alt, unit=("U/L",))
        lab = dataclasses.replace(command.message, observations=(observation,))
        outcomes += await ingest([IngestLabMessage(lab, lambda: "", AT)])
    assert [o.code for o in outcomes] == [RejectionCode.OTHER_ANALYTES_RESULT] * 3
    assert "crp, not alt" in outcomes[0].reason
    assert [(r.status, r.result.analyte.value) for r in db.results] == [("F", "crp")]
    assert db.standing("LIS^HOSP", "R1") is not None


async def test_a_blank_patient_identifier_is_missing_not_a_patient() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (outcome,) = await ingestor(db)([message("1", mrn="  ")])
    assert outcome.code is RejectionCode.MISSING_PATIENT


async def test_a_stored_message_id_with_other_content_is_a_reused_id_not_a_duplicate() -> None:
    """A correction sent under the id of the message it corrects would be dropped as a
    duplicate; the same content under that id is a resend, answered as a duplicate."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="R1")])
    (resent,) = await ingest([message("1", key="R1")])
    (corrected,) = await ingest([message("1", status="C", key="R1")])
    assert resent.duplicate
    assert corrected.code is RejectionCode.REUSED_MESSAGE_ID and "id of its own" in corrected.reason
    assert len(db.results) == 1


async def test_a_local_time_beyond_utcs_range_in_the_senders_zone_is_implausible() -> None:
    """Year 9999 read in New York overflows UTC: rejected as implausible, not an internal
    error (which would keep it as processing-failed)."""
    for local in (datetime(9999, 12, 31, 23, 59), datetime(1, 1, 1, 0, 0)):
        db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, time_zone="America/New_York")
        (outcome,) = await ingestor(db)([collected_locally(local)])
        assert outcome.code is RejectionCode.IMPLAUSIBLE_TIME, local


async def test_a_result_that_is_only_preliminary_can_be_cancelled_without_an_event() -> None:
    """Not emitted, the preliminary result is withdrawn quietly; a correction of it stays
    refused (there is no final result to correct)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", status="P", key="R1")])
    (corrected,) = await ingest([message("2", status="C", key="R1")])
    (cancelled,) = await ingest([message("3", status="X", key="R1")])
    assert corrected.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
    assert cancelled.accepted, cancelled.reason
    assert db.standing("LIS^HOSP", "R1", {"P"}) is None
    # the correction's rejection only: a preliminary result is never emitted, nor cancelled
    assert [topic for topic, _ in db.events] == ["lab.rejected.v1"]


async def test_a_rejected_command_run_again_is_the_same_rejection_and_event() -> None:
    """After a commit whose answer was lost the batch runs again: its rejections carry the
    ids fixed with their commands (the write keeps one row and one event per id)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = message("1", status="Q")  # an unknown status
    for _ in range(2):
        (outcome,) = await ingestor(db)([command])
        assert outcome.code is RejectionCode.UNKNOWN_STATUS
    first, second = (envelope.event_id for topic, envelope in db.events)
    assert first == second
    assert message("1", status="Q").rejection_id != command.rejection_id  # one per command


@pytest.mark.parametrize("stored_status", ["P", "F"])
async def test_a_cancellation_in_the_batch_of_a_new_preliminary_withdraws_all_versions(
    stored_status: str,
) -> None:
    """A stored P (or F) and, in one batch, a new P and then X: every version under the key
    is withdrawn, as when the three arrive one batch at a time."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", status=stored_status, key="R1")])
    outcomes = await ingest(
        [message("2", status="P", key="R1"), message("3", status="X", key="R1")]
    )
    assert all(o.accepted for o in outcomes), outcomes
    standing = [r for r in db.results if r.cancelled_at is None and r.result_id not in db.cancelled]
    assert standing == []


async def test_a_cancellation_is_counted_as_cancelled_never_as_a_result_stored() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([message("1", key="K")])
    (cancelling,) = await ingest([message("2", status="X", key="K")])
    assert (stored.results, stored.cancelled) == (1, 0)
    assert (cancelling.results, cancelling.cancelled) == (0, 1)
    assert [m.result_count for m in db.messages.values()] == [1, 0]


WITHDRAWN_AT = AT + timedelta(days=1)


def withdrawn_db() -> FakeDatabase:
    """S-1 (MRN1) withdrawn the day after AT, a final result of theirs stored under K."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    return db


async def withdraw(db: FakeDatabase, ingest: BatchIngestor) -> None:
    (stored,) = await ingest([message("1", key="K")])
    assert stored.results == 1
    del db.enrolled["h(MRN1)"]
    db.withdrawn["h(MRN1)"] = WithdrawnSubject(EnrolledSubject("S-1", SITE), WITHDRAWN_AT)


@pytest.mark.parametrize(("status", "results", "cancelled"), [("C", 1, 0), ("X", 0, 1)])
async def test_a_withdrawn_subjects_result_is_still_corrected_or_cancelled(
    status: str, results: int, cancelled: int
) -> None:
    """Their earlier results stay the trial's: never left standing uncorrected, whoever
    sent the correction, even to an instance that never read them (the write refuses the
    fast path's 'nobody')."""
    db = withdrawn_db()
    ingest = ingestor(db)
    await withdraw(db, ingest)
    (outcome,) = await ingest([message("2", status=status, key="K")])
    assert (outcome.results, outcome.cancelled, outcome.enrolled) == (results, cancelled, True)
    assert [r.subject_id for r in db.results] == ["S-1"] * (1 + results)


@pytest.mark.parametrize(
    ("collected", "kept"), [(AT, True), (WITHDRAWN_AT + timedelta(hours=1), False)]
)
async def test_a_late_result_of_a_withdrawn_subject_is_kept_when_collected_before(
    collected: datetime, kept: bool
) -> None:
    """A sample collected before the withdrawal is the trial's; after it, nobody's (the
    patient no longer takes part): discarded like any patient's who is not enrolled."""
    db = withdrawn_db()
    ingest = ingestor(db)
    await withdraw(db, ingest)
    fresh = ingestor(db)  # another instance, or after a restart: nothing remembered
    late = message("3", key="K-late")
    observation = dataclasses.replace(late.message.observations[0], collected_at=collected)
    arrived = WITHDRAWN_AT + timedelta(hours=2)  # after either sample was collected
    late = IngestLabMessage(dataclasses.replace(late.message, observations=(observation,)),
                            lambda: "", arrived)  # fmt: skip
    refused = db.refused
    (outcome,) = await fresh([late])
    assert (outcome.results, outcome.enrolled) == ((1, True) if kept else (0, False))
    assert db.refused == refused + 1  # the fast path took MRN1 for nobody's: refused


async def test_every_event_of_a_message_carries_its_message_as_correlation_id() -> None:
    """A result, its cancellation and a rejection can be traced back to what was sent."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="K")])
    await ingest([message("2", status="X", key="K")])
    await ingest([message("3", status="C", key="K-unknown")])  # nothing to correct
    recorded, cancelled, rejected = (envelope for _, envelope in db.events)
    first, second = db.messages.values()
    assert recorded.correlation_id == first.message_id
    assert cancelled.correlation_id == second.message_id
    assert str(rejected.correlation_id) == rejected.payload["rejection_id"]


# ---- property: a final result never supersedes a final or corrected one -----------------

one_version = st.tuples(st.sampled_from(["F", "F", "C", "P"]), st.sampled_from(["4", "40"]))
versions = st.lists(st.lists(one_version, min_size=1, max_size=3), min_size=1, max_size=5)


async def send_versions(
    batches: list[list[tuple[str, str]]], *, careful_only: bool
) -> tuple[Any, ...]:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    outcomes = []
    with (
        patch(f"{BatchIngestor.__module__}._fast_path_applies", return_value=False)
        if careful_only
        else nullcontext()
    ):
        for b, batch in enumerate(batches):
            commands = [
                message(f"{b}-{n}", status=status, key="K", value=value)
                for n, (status, value) in enumerate(batch)
            ]
            outcomes += [
                (o.accepted, o.duplicate, o.code, o.results) for o in await ingest(commands)
            ]
    return tuple(outcomes), tuple(recorded(db))


@settings(max_examples=300, deadline=None)
@given(versions)
@example([[("F", "40")], [("C", "4")], [("F", "40")]])  # the reviewer's late final result
@example([[("F", "40"), ("C", "4"), ("F", "4"), ("F", "40")]])
def test_any_final_and_corrected_results_of_a_key_emit_one_line(
    batches: list[list[tuple[str, str]]],
) -> None:
    """For any F, C and P results under one key, sent in any batches: one final result is
    emitted, first and superseding nothing, and each correction supersedes the result
    emitted before it, so the series never ends on a final result after a correction. The
    fast path answers and emits as the careful path alone would."""
    outcomes, emitted = asyncio.run(send_versions(batches, careful_only=False))
    assert (outcomes, emitted) == asyncio.run(send_versions(batches, careful_only=True))
    assert [status for status, _, _ in emitted].count("final") <= 1
    for position, (status, _, superseded) in enumerate(emitted):
        assert superseded == (None if status == "final" else position - 1), emitted


async def test_an_event_gives_its_times_in_utc_whatever_offset_the_sender_wrote() -> None:
    """FHIR and JSON times keep their offset when read, HL7's are UTC: the same sample is
    published the same way from every channel."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = message("1")
    zurich = timezone(timedelta(hours=1))
    observation = dataclasses.replace(
        command.message.observations[0],
        collected_at=AT.astimezone(zurich),
        reported_at=(AT + timedelta(hours=1)).astimezone(zurich),
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    (envelope,) = [e for t, e in db.events if t == "lab.results.v1"]
    assert envelope.payload["collected_at"] == "2026-11-20T07:15:00Z"  # AT
    assert envelope.payload["reported_at"] == "2026-11-20T08:15:00Z"
    assert envelope.occurred_at.utcoffset() == timedelta(0)
