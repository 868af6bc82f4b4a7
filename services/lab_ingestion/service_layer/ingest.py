"""Store a batch of lab messages in one unit of work: match, normalise, record, emit.

Rules (issue 3, PROTOCOL section 6):
- HL7 senders must be on the allow-list (else AR); a duplicate (source, control id) is
  accepted again and stored once.
- The patient identifier is hashed at once; a message about a patient who is not enrolled
  is counted and discarded before its results are looked at: nothing of it is kept (no
  rejection, not even its message id: resent once the enrolment reached us, it is stored).
  Until the subject directory has caught up at start-up, such a message is answered
  "resend" instead, nothing kept either (``directory_gate``).
- Observations of analytes the trial does not use are ignored. A trial result that cannot be
  used (unit, value, collection time, status) rejects the whole message (AE): the lab fixes
  and resends it, and no half of a message is ever stored.
- F and C are emitted on `lab.results.v1` (a correction names the result it supersedes);
  P is stored but not emitted and heads no chain; X and D cancel the result, every version
  of it, with an event. A C, X or D needs a stored result of the same patient under its key
  (``check_earlier_results``): otherwise the message is rejected, never applied across
  patients. Only a C changes an F or C: an F under a key that holds one is a duplicate when
  it says the same (a message of duplicates alone is answered as one, its id kept with no
  result, so that its own resend is answered so again), else rejected. A withdrawn chain
  stays withdrawn: an F restating one of its versions (a late copy) is rejected, and its
  cancellation sent again is a duplicate. An X under a key that never held anything, for
  any patient (a first report that a result cannot be obtained), is left out: nothing to
  withdraw, nothing recorded.
- R and S (not verified, partial) are stored as P; I, O and N (pending, order detail only,
  not asked) hold no result and are left out as another test's observations are; U (made
  final without the values) is refused.

Most batches hold new final results, and then the read before the write can be skipped (the
fast path): the batch assumes its messages are new, that the subjects remembered from earlier
reads are still the enrolled ones (anyone else is not enrolled), and that its result keys
never held a final or corrected result (none standing, none withdrawn: only a read tells a
late copy of a withdrawn one). The write statement checks all of that and stores nothing if
any of it no longer holds; the batch is then planned again from a fresh read (the careful
path), which also refreshes what is remembered. Corrections and cancellations always take
the careful path.

Several instances may write at once (scaled out): a batch on the careful path holds the
chain lock from its read to its commit, so chains are changed one batch at a time, and a write
that would fork a chain or store a message twice is refused and planned again. The fast path
takes no lock: a careful batch's write is also refused (and the batch read again) when a key
it writes, read as holding no row at all, holds one by then (``BatchContext.assumptions``).

A batch from the group committer carries an attempt token, which its write stores (migration
0020) and its attempt's id (0027). An attempt that fails while committing keeps its outcomes
(``LostCommitAnswers``); its retry first asks whether the token was committed, and by which
attempt, and if so answers that attempt's outcomes, neither planning nor writing again: its
messages were sent once, not resent. Attempts plan afresh and may plan differently (the
allow-list re-read meanwhile), so only the committed attempt's plan is ever answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from services.lab_ingestion.domain.model import StaleBatch
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import needs_earlier_result
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.batch_reading import BatchReader, messages_of
from services.lab_ingestion.service_layer.command_outcomes import CommandApplier
from services.lab_ingestion.service_layer.commands import (
    BeforeCommit,
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.group_commit import (
    CommitAnswerLost,
    LostCommitAnswers,
    attempt_token,
)
from services.lab_ingestion.service_layer.identification import (
    identify_commands,
)
from services.lab_ingestion.service_layer.result_keys import keyed_as_stored
from services.lab_ingestion.service_layer.unlisted_copies import NO_BUDGET, UnlistedCopies
from shared.contracts.envelope import utc_now

# the careful path is refused only when another instance wrote the same message or chain
# between its read and its write; each refusal is read again, and the next attempt sees it
CAREFUL_ATTEMPTS = 5


class BatchIngestor:
    def __init__(
        self,
        uow_factory: Callable[[], Any],
        hash_identifier: Callable[[str], str],
        params: UnitParameters | None = None,
        on_replan: Callable[[], None] = lambda: None,
        *,
        reads_kept_copies: bool = False,
        on_discarded: Callable[[Sequence[str]], None] = lambda hmacs: None,
        directory_caught_up: Callable[[], bool] = lambda: True,
        unlisted_copies: UnlistedCopies = NO_BUDGET,
    ) -> None:
        self._uow_factory = uow_factory
        self._on_replan = on_replan
        # told the keyed hashes of the numbers whose messages each batch discarded as not
        # enrolled (``late_enrolments``)
        self._on_discarded = on_discarded
        # whether the subject directory holds what was enrolled before the service started
        # (``directory_gate``); until then a patient not found is answered "resend"
        self._directory_caught_up = directory_caught_up
        # a replay's: patient identifiers are kept copies' keyed hashes (``kept_copy``), and
        # messages are applied as of when they first arrived (``replayed_chains``)
        self._reads_kept_copies = reads_kept_copies
        self._unlisted = unlisted_copies  # what an unknown MLLP sender may leave
        self._hash = hash_identifier
        self._applier = CommandApplier(
            hash_identifier, params or UnitParameters(), reads_kept_copies=reads_kept_copies
        )
        self._reader = BatchReader(hash_identifier)
        self._lost_answers: LostCommitAnswers[IngestOutcome] = LostCommitAnswers()

    async def __call__(
        self,
        commands: Sequence[Command],
        *,
        before_commit: BeforeCommit | None = None,
        dry_run: bool = False,
    ) -> list[IngestOutcome]:
        """``before_commit``: told the outcomes in the unit of work that commits them (each
        attempt's, of which one commits). ``dry_run``: the outcomes the commands would have
        now, planned from a read as on the careful path (every check a write's plan makes),
        in a unit of work rolled back before anything is staged: nothing written, no event,
        ``before_commit`` never told."""
        if dry_run:
            return await self._ingest(commands, fast=False, token=None, then=None, write=False)
        return await self._outcomes(commands, before_commit)

    async def _outcomes(
        self, commands: Sequence[Command], before_commit: BeforeCommit | None
    ) -> list[IngestOutcome]:
        token = attempt_token(commands)
        answered = await self._answered_before(token)
        if answered is not None:
            return answered
        fast_first = [True] if _fast_path_applies(commands) else []
        *replanned, last = fast_first + [False] * CAREFUL_ATTEMPTS
        for fast in replanned:
            try:
                return await self._ingest(commands, fast=fast, token=token, then=before_commit)
            except StaleBatch:  # another instance stored one of its messages or results first
                self._on_replan()
                # or the earlier attempt this retries, whose commit was still landing
                answered = await self._answered_before(token)
                if answered is not None:
                    return answered
        return await self._ingest(commands, fast=last, token=token, then=before_commit)

    def listed(self, sender: tuple[str, str]) -> bool | None:
        """Whether an MLLP sender is on the allow-list, as the last batch read it (None: not
        read lately): its entrypoint need not redact a copy that will not be kept."""
        return self._reader.listed(sender)

    def forget_attempt(self, token: uuid.UUID) -> None:
        """The group committer will not try ``token`` again: its kept outcomes can go."""
        self._lost_answers.forget(token)

    async def _answered_before(self, token: uuid.UUID | None) -> list[IngestOutcome] | None:
        """The outcomes of an earlier attempt at this batch that failed while committing,
        if the database did commit it (one read, only on such a retry); else None: nothing
        of the batch is stored, and it is planned afresh."""
        if token is None or not self._lost_answers.holds(token):
            return None
        async with self._uow_factory() as uow:
            attempt = await uow.labs.committed_attempt(token)
        if attempt is None:
            return None
        answered = self._lost_answers.take(token, attempt)
        if answered is None:  # not an attempt of ours that reached its commit
            raise CommitAnswerLost
        return answered

    async def _ingest(
        self,
        commands: Sequence[Command],
        *,
        fast: bool,
        token: uuid.UUID | None,
        then: BeforeCommit | None,
        write: bool = True,
    ) -> list[IngestOutcome]:
        committing: list[IngestOutcome] | None = None
        attempt = uuid.uuid4()  # which attempt committed is what a retry answers
        # read before the directory is: opened after, the read holds what it waited for
        complete = self._directory_caught_up()
        discarded: list[str] = []
        try:
            async with self._uow_factory() as uow:
                allowed = await self._reader.allowed_sources(uow)
                commands = identify_commands(commands, allowed, self._hash)
                ingests = messages_of(commands)
                if fast:
                    context = self._reader.assume(ingests, allowed)
                else:
                    await uow.serialise_chains()  # before reading the chains it may change
                    # each FHIR result under the stored result its identifiers name
                    commands, named = await keyed_as_stored(uow.labs, commands, self._hash)
                    ingests = messages_of(commands)
                    context = await self._reader.load(
                        uow, ingests, allowed, replaying=self._reads_kept_copies, named=named
                    )
                if self._reads_kept_copies:  # withdrawn as of when the message arrived
                    context.withdrawn_at = max((c.received_at for c in ingests), default=None)
                context.directory_complete, discarded = complete, context.discarded
                context.unlisted = self._unlisted
                outcomes = [self._applier.apply(context, command) for command in commands]
                if not write:  # a dry run: the unit of work rolls back, the lock with it
                    return outcomes
                await self._store(uow, context, token, attempt)
                if then is not None:  # before the commit, in its transaction
                    then(uow, outcomes)
                committing = outcomes
                await uow.commit()
        except StaleBatch:  # refused by the write: nothing of it was stored
            raise
        except BaseException:  # a reset or a timeout too: the commit may have landed
            if committing is not None:
                self._on_discarded(discarded)  # discarded if it did: told once too often
                if token is not None:
                    self._lost_answers.remember(token, attempt, committing)
            raise
        self._lost_answers.forget(token)  # committed now: what an earlier attempt kept is moot
        if discarded:
            self._on_discarded(discarded)
        return outcomes

    async def _store(
        self, uow: Any, context: BatchContext, token: uuid.UUID | None, attempt: uuid.UUID
    ) -> None:
        uow.labs.stage(
            context.messages, context.results, context.cancellations, context.rejections,
            context.withdrawn_at or utc_now(), assumptions=context.assumptions(),
        )  # fmt: skip
        if token is not None:  # a batch from the group committer
            uow.labs.stage_batch_token(token, attempt)
        for topic, envelope in context.events:
            uow.outbox.add(topic, envelope)


def _fast_path_applies(commands: Sequence[Command]) -> bool:
    """Single messages and rejections of new results only: a correction or cancellation
    needs the earlier result, and a transaction is kept on the careful path."""
    for command in commands:
        if isinstance(command, IngestTransaction):
            return False
        if isinstance(command, RecordRejectedInput) and command.redact_without is not None:
            return False  # a failed transaction's copy: its patients' enrolment is read
        if isinstance(command, IngestLabMessage) and needs_earlier_result(command.message):
            return False
    return True
