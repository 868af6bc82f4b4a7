"""asyncpg repository of lab-ingestion; every call works on a whole batch of messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.lab_ingestion.adapters.batch_lookup import BatchLookup, read_lookup
from services.lab_ingestion.adapters.batch_rows import (
    identifier_rows,
    key_claims,
    message_row,
    rejection_row,
    result_row,
    unheld_rows,
)
from services.lab_ingestion.adapters.batch_statements import (
    COMMITTED_ATTEMPT,
    LOOKUP,
    STANDING_RESULTS,
    STORED_RESULTS,
    WRITE,
    prunes,
)
from services.lab_ingestion.adapters.sources import sender_of
from services.lab_ingestion.adapters.stored_ids import RESOLVED, StoredId
from services.lab_ingestion.domain.copies_elsewhere import SAME_SAMPLE, said_by
from services.lab_ingestion.domain.fhir_cancellations import StandingResult
from services.lab_ingestion.domain.model import StaleBatch
from services.lab_ingestion.domain.records import (
    BatchAssumptions,
    MessageRecord,
    RejectionRecord,
    ResultRecord,
    Sender,
    Withdrawal,
)
from services.lab_ingestion.domain.result_identifiers import StoredResult
from shared.messaging.outbox import OutgoingEvent, outbox_rows

SourceKey = tuple[str, str]
STALE_BATCH_SQLSTATE = "LI409"  # raised by assert_batch_current (migration 0002, latest 0018)
DUPLICATE_MESSAGE_CONSTRAINT = "messages_source_control_id_key"
# an earlier attempt at the batch committed (migration 0020): its answer was lost
COMMITTED_BATCH_CONSTRAINT = "committed_batches_pkey"
# the attempt of a committed batch written before attempts were recorded (migration 0027):
# the nil UUID, which no attempt draws, so that no kept plan is taken for its answer
UNKNOWN_ATTEMPT = uuid.UUID(int=0)
# a chain that another writer changed meanwhile (migration 0009), or a key another writer
# wrote as new at the same moment (0022): planned again from a read
CHAIN_CONSTRAINTS = frozenset(
    {"results_superseded_once", "results_one_standing_root", "result_key_claims_pkey"}
)
# pg_advisory_xact_lock's two-key form (its own key space: no clash with the relay's lock)
CHAIN_LOCK = (0x4C41, 0x4348)


class LabRepository:
    """Control ids and result keys are handed in and out as the messages say them, and
    written and compared only as their keyed hashes (``stored_id``, see stored_ids.py)."""

    def __init__(self, conn: asyncpg.Connection, stored_id: StoredId) -> None:
        self._conn = conn
        self._stored_id = stored_id
        self._staged: StagedBatch | None = None
        self.prune_due = False  # old attempt tokens, after the last write's commit (its own)

    async def allowed_sources(self) -> dict[SourceKey, Sender]:
        """The allow-list: each sender with the time zone of its local times, its site and
        the assigning authority (its names) of the numbers its patients are matched by."""
        rows = await self._conn.fetch(
            """SELECT application, facility, time_zone, site_id, identifier_authority,
                      identifier_authority_names
                 FROM sources"""
        )
        return {(r["application"], r["facility"]): sender_of(r) for r in rows}

    async def lock_chains(self) -> None:
        """Wait for, and hold until the transaction ends, the right to change result chains:
        a batch that corrects or cancels reads the chains it changes only after every other
        writer (another instance) that was changing chains committed. Needs a transaction."""
        await self._conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CHAIN_LOCK)

    async def committed_attempt(self, token: uuid.UUID) -> uuid.UUID | None:
        """The attempt whose write under the group committer's ``token`` committed
        (migrations 0020, 0027), None when none did: an attempt whose commit answer was
        lost, told from one that stored nothing. ``UNKNOWN_ATTEMPT`` for a row written
        before attempts were recorded. One probe of the table's primary key."""
        row = await self._conn.fetchrow(COMMITTED_ATTEMPT, token)
        if row is None:
            return None
        attempt: uuid.UUID | None = row["attempt"]
        return UNKNOWN_ATTEMPT if attempt is None else attempt

    async def lookup(
        self,
        message_keys: Sequence[SourceKey],
        hospital_id_hmacs: Sequence[str],
        result_keys: Sequence[SourceKey],
        *,
        change_times: bool = False,
    ) -> BatchLookup:
        """In one round trip: which messages were stored before, the subjects (with their
        sites) enrolled under each hash, and the head of each (source, result key)'s chain:
        its newest standing final or corrected result that no standing result supersedes,
        with what it and the chain's earlier standing versions say (and each patient's newest
        standing preliminary result there, which only a cancellation acts on), and what the
        key's withdrawn versions said, each patient's; and which keys hold any row at all.
        ``change_times`` (a replay's): when each key's chain last changed, too."""
        stored_control_ids = [self._stored_id(k[1]) for k in message_keys]
        stored_keys = [self._stored_id(k[1]) for k in result_keys]
        rows = await self._conn.fetch(
            LOOKUP,
            [k[0] for k in message_keys],
            stored_control_ids,
            list(set(hospital_id_hmacs)),
            [k[0] for k in result_keys],
            stored_keys,
            change_times,
        )
        control_ids = dict(zip(stored_control_ids, (k[1] for k in message_keys), strict=True))
        keys = dict(zip(stored_keys, (k[1] for k in result_keys), strict=True))
        return read_lookup(rows, control_ids, keys)

    def stored_key(self, key: str) -> str:
        """A result key as stored: its keyed hash."""
        return self._stored_id(key)

    resolved_prefix = RESOLVED  # a key known as stored only is planned behind it

    async def stored_results(self, keys: Sequence[SourceKey]) -> dict[SourceKey, StoredResult]:
        """The stored result each (source, key) is the own key of (results stored under it):
        the key as stored, the analytes of its rows and their patients' hashes; keys naming
        none are left out."""
        stored = [self._stored_id(k[1]) for k in keys]
        rows = await self._conn.fetch(STORED_RESULTS, [k[0] for k in keys], stored)
        written = dict(zip(stored, (k[1] for k in keys), strict=True))
        return {
            (row["source"], written[row["key"]]): StoredResult(
                row["result_key"],
                frozenset(row["analytes"] or ()),
                frozenset(row["patients"] or ()),
            )
            for row in rows
        }

    async def subjects_results(
        self, subject_ids: Sequence[str], analytes: Sequence[str]
    ) -> tuple[dict[str, list[StandingResult]], dict[str, list[StandingResult]]]:
        """Each subject's standing results of ``analytes``, and its withdrawn ones, whatever
        the sender, with their keys and keys' parts as stored; subjects holding none are
        left out."""
        rows = await self._conn.fetch(
            STANDING_RESULTS, sorted(set(subject_ids)), sorted(set(analytes))
        )
        standing: dict[str, list[StandingResult]] = {}
        withdrawn: dict[str, list[StandingResult]] = {}
        for row in rows:
            parts = row["identifier_parts"]
            found = withdrawn if row["withdrawn"] else standing
            found.setdefault(row["subject_id"], []).append(
                StandingResult(
                    row["source"],
                    row["result_key"],
                    row["analyte"],
                    None if parts is None else frozenset(parts),
                    row["status"],
                    row["collected_at"],
                    row["channel"],
                    said_by(row["value"], row["unit"], row["comparator"]),
                    row["head"],
                    row["result_id"],
                    row["feed_of"],
                )
            )
        return standing, withdrawn

    def stage(
        self,
        messages: Sequence[MessageRecord],
        results: Sequence[ResultRecord],
        cancellations: Sequence[Withdrawal],
        rejections: Sequence[RejectionRecord],
        cancelled_at: datetime,
        *,
        assumptions: BatchAssumptions | None = None,
    ) -> None:
        """Keep a batch's writes until the unit of work commits them (``cancellations``: stored
        results whose chains are withdrawn, each by its message's cancellation). A batch planned
        without a lookup names its ``assumptions``, one planned from a lookup the keys it
        read holding no row; they are checked by the write itself, before it inserts."""
        self._staged = StagedBatch(
            list(messages), list(results), list(cancellations), list(rejections), cancelled_at,
            assumptions or BatchAssumptions(),
        )  # fmt: skip

    def stage_batch_token(self, token: uuid.UUID, attempt: uuid.UUID) -> None:
        """Store the group committer's token (the same for every retry of the batch) and
        this attempt's id with the staged batch, in its write: a retry tells by them whether
        an attempt whose answer was lost committed, and which one."""
        if self._staged is None:
            raise RuntimeError("no batch staged")
        self._staged.token = token
        self._staged.attempt = attempt

    def discard(self) -> None:
        self._staged = None

    async def write(self, outbox: list[OutgoingEvent]) -> None:
        """Write the staged batch and its events in ONE statement: PostgreSQL applies a
        statement atomically, so this is the batch's transaction (one round trip).

        Raises ``StaleBatch`` (and writes nothing) when one of the batch's messages was
        stored before, when its assumptions no longer hold, when it would fork a result
        chain that another writer changed meanwhile, or when an earlier attempt at the batch
        (its token) committed."""
        staged, self._staged = self._staged, None
        if staged is None:
            staged = StagedBatch([], [], [], [], None, BatchAssumptions())
        try:
            await self._execute_write(staged, outbox)
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name in CHAIN_CONSTRAINTS:
                raise StaleBatch("a result chain of the batch changed meanwhile") from error
            if error.constraint_name == COMMITTED_BATCH_CONSTRAINT:
                raise StaleBatch("an earlier attempt at the batch committed") from error
            if error.constraint_name != DUPLICATE_MESSAGE_CONSTRAINT:
                raise
            raise StaleBatch("a message of the batch was stored meanwhile") from error
        except asyncpg.PostgresError as error:
            if error.sqlstate != STALE_BATCH_SQLSTATE:
                raise
            raise StaleBatch("the batch's assumptions no longer hold") from error
        self.prune_due = prunes(staged.token)

    async def _execute_write(self, staged: StagedBatch, outbox: list[OutgoingEvent]) -> None:
        assumed = staged.assumptions
        new_keys = [(k[0], self._stored_id(k[1])) for k in assumed.new_result_keys]
        claims = key_claims(staged.results, assumed.new_result_keys, new_keys)
        identifiers = identifier_rows(staged.results, self._stored_id, set(claims))
        await self._conn.execute(
            WRITE,
            [h for h, _ in assumed.subjects],
            [s.subject_id if s else None for _, s in assumed.subjects],
            [s.site_id if s else None for _, s in assumed.subjects],
            [source for source, _ in new_keys],
            [key for _, key in new_keys],
            [message_row(m, self._stored_id) for m in staged.messages],
            [result_row(r, self._stored_id) for r in staged.results],
            [c.result_id for c in staged.cancellations],
            staged.cancelled_at,
            [rejection_row(r) for r in staged.rejections],
            outbox_rows(outbox),
            staged.token,
            [source for source, _ in claims],
            [key for _, key in claims],
            staged.attempt,
            [i[0] for i in identifiers],
            [i[1] for i in identifiers],
            [i[2] for i in identifiers],
            [c.message_id for c in staged.cancellations],
            *unheld_rows(assumed.unheld_samples, self._stored_id),
            SAME_SAMPLE,
            [s.channel for s in assumed.unheld_samples],
            assumed.discarded,
            [None] * len(assumed.discarded),  # taken for nobody's, each
            [s.feed_of for s in assumed.unheld_samples],
            [m.feed_of for m in staged.messages],
        )


@dataclass
class StagedBatch:
    messages: list[MessageRecord]
    results: list[ResultRecord]
    cancellations: list[Withdrawal]
    rejections: list[RejectionRecord]
    cancelled_at: datetime | None
    assumptions: BatchAssumptions
    token: uuid.UUID | None = None  # the group committer's attempt token (migration 0020)
    attempt: uuid.UUID | None = None  # this attempt's id under the token (migration 0027)
