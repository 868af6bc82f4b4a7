"""faust's aiokafka consumer, kept from committing offsets of a log the broker no longer holds.

A consumer position is only meaningful in the log it was read from. The embedded broker keeps
its logs in memory: after a restart every topic is re-created empty, the relays republish
their retained events into it, and a consumer group's committed offsets are gone, so each
consumer must read the new log from its beginning (``shared.messaging.relay``). The new log
is not the old one offset for offset (the old one may have held an event twice, published
again after a relay crash), so an offset read from the old log and committed to the new one
points past events never applied: a restarted consumer would skip them. The crash test saw
it (1-3 results per partition, once a relay duplicate preceded the broker's restart). faust
(0.15) commits such offsets in two ways, and this consumer closes both:

* without a group membership. When the broker forgets the member, aiokafka resets its
  generation to -1 and rejoins; a commit sent meanwhile (faust's commit timer, or a commit
  aiokafka retries while the coordinator is unknown) carries generation -1, which a broker
  takes from anyone while the group is empty, as a group re-created by a restart is. Here
  every commit request is refused unless the consumer is a member of its group.
* for events of a previous assignment. faust acknowledges an event when the agent is done
  with it; a batch that was being applied while the partitions were revoked and assigned
  again is acknowledged afterwards, and faust would count its old offsets as done in the
  new assignment. Here each message remembers the assignment it was read in, and the
  acknowledgement of one read in an earlier assignment is dropped: it was applied (the
  inbox keeps it from being applied twice) and is read again from the committed offset.

  A commit begun in an earlier assignment is not sent, and its result is never recorded as
  the current assignment's committed offset (faust records it after the commit returns,
  even a refused one, and would then ignore the new log's acknowledgements below it).

Nor does it deliver events of a new log out of order. Until aiokafka learns that the broker
forgot the member (at the next heartbeat), the consumer keeps fetching at its old positions,
now in the new log, and faust's read-offset filter would drop the new log's events below the
old position and deliver later ones first. So when the consumer's client opens again a
connection to a broker it fetches from (``shared.streaming.fetch_reconnects``), the log may
be new: the consumer rejoins its group, and delivers no record until it is assigned its
partitions again. aiokafka discards what it fetched for an earlier assignment, and starts a
new one at the committed offsets (or at the beginning), so what was withheld is read again.

On Apache Kafka all these cases are rare (a group is empty only if every member left; a
connection that carries records is opened again when its broker restarts, or after the
consumer fetched nothing from it for 9 minutes), and cost a re-read of what was in flight,
or a rebalance.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from aiokafka.errors import UnknownMemberIdError
from aiokafka.protocol.commit import OffsetCommitRequest
from aiokafka.protocol.group import JoinGroupRequest
from faust.transport.consumer import RecordMap, ensure_TP
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, ConsumerMessage, Message

from shared.streaming.event_path import fetch_position_known
from shared.streaming.fetch_reconnects import sending_a_commit, watch_fetch_reconnects
from shared.streaming.fetch_wait import DEFAULT_FETCH_MAX_WAIT_SECONDS, FetchWaitConsumerThread

log = logging.getLogger(__name__)

_NO_GENERATION = OffsetCommitRequest.DEFAULT_GENERATION_ID
_NO_MEMBER = JoinGroupRequest.UNKNOWN_MEMBER_ID


def is_group_member(coordinator: Any) -> bool:
    """True while aiokafka's group coordinator holds a generation and a member id."""
    return bool(coordinator.generation != _NO_GENERATION and coordinator.member_id != _NO_MEMBER)


def _never() -> bool:
    return False


def refuse_commits_without_membership(
    coordinator: Any, log_may_be_new: Callable[[], bool] = _never
) -> None:
    """Make ``coordinator`` (aiokafka's ``GroupCoordinator``) refuse every offset commit
    request it would send without a group membership, or while ``log_may_be_new()`` (the
    client reconnected to the broker since the membership was established: a restarted
    broker takes the old membership's commit for its re-created, empty group). Checked as
    each request is built, so a commit that aiokafka retries across a lost membership or a
    restart is refused too; and the request never goes out through a connection opened
    again meanwhile (``sending_a_commit``). The refusal is aiokafka's own for a commit after
    a rebalance (``CommitFailedError``), which faust takes as "not committed" and goes on."""
    if getattr(coordinator, "_ccs_refuses_commits_without_membership", False):
        return
    send: Callable[[Any, Any], Awaitable[None]] = coordinator._do_commit_offsets
    sending = sending_a_commit()

    async def commit_as_member(assignment: Any, offsets: Any) -> None:
        if offsets and (not is_group_member(coordinator) or log_may_be_new()):
            log.warning(
                "offset commit refused: the consumer is not a member of its group, or its "
                "broker may be a restarted one (it rejoins); what it applied meanwhile is "
                "read again and the inbox drops it",
                extra={"consumer": coordinator.group_id},
            )
            raise UnknownMemberIdError("not a member of the group: commit refused")
        token = sending.set(True)
        try:
            await send(assignment, offsets)
        finally:
            sending.reset(token)

    coordinator._do_commit_offsets = commit_as_member
    coordinator._ccs_refuses_commits_without_membership = True


@dataclass
class _Commit:
    """A commit faust began: the assignment its offsets were computed in, and the committed
    offsets of the current assignment, to restore if that one began meanwhile. (faust's
    commit without Kafka transactions: the platform runs at_least_once.)"""

    begun_in: int
    restore: dict[TP, int | None] | None = None


# set for the task that commits (faust's force_commit -> _commit_tps -> _commit_offsets -> _commit)
_COMMIT: ContextVar[_Commit | None] = ContextVar("guarded_consumer_commit", default=None)


class GuardedConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with the guards of this module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignment_epoch = 0
        self._read_in: WeakKeyDictionary[Message, int] = WeakKeyDictionary()
        self.stale_acks_dropped = 0
        self._dropped_in = -1
        self._fetched_in = 0
        # counted in the consumer thread; the main loop trusts the log up to a count
        self._fetch_reconnects = 0
        self._trusted_reconnects = 0
        self.records_withheld = 0

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @property
    def log_may_be_new(self) -> bool:
        """The client reconnected to a broker it fetches from since the last assignment."""
        return self._fetch_reconnects != self._trusted_reconnects

    def _to_message(self, tp: TP, record: Any) -> ConsumerMessage:
        message = super()._to_message(tp, record)
        self._read_in[message] = self.assignment_epoch
        return message

    def ack(self, message: Message) -> bool:
        if self._read_in.get(message, self.assignment_epoch) == self.assignment_epoch:
            return bool(super().ack(message))
        # read in an earlier assignment: done with, never counted as done in this one
        message.acked = True
        self._unacked_messages.discard(message)
        if self._dropped_in != self.assignment_epoch:
            self._dropped_in = self.assignment_epoch
            log.info(
                "events read before the last rebalance were applied after it; their offsets "
                "are not committed (they are read again and the inbox drops them)",
                extra={"topic": message.topic},
            )
        self.stale_acks_dropped += 1
        return False

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        records = await super()._getmany(active_partitions, timeout)
        self._fetched_in = self.assignment_epoch  # faust yields them with no await before
        return records

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """faust's, less the records that may come from a new log at an old position, and
        those fetched before a rebalance that faust would still yield: the next assignment
        reads them again (see the module's docstring)."""
        async for tp, message in super().getmany(timeout):
            if self.log_may_be_new or self._fetched_in != self.assignment_epoch:
                self.records_withheld += 1
                continue
            yield tp, message

    def _suspect_new_log(self, coordinator: Any, node_id: int) -> None:
        """In the consumer thread, as the client reconnects to ``node_id``: rejoin the group.
        The rejoin is requested before the count changes (see ``_trust_log``)."""
        coordinator.request_rejoin()
        trusted = not self.log_may_be_new
        self._fetch_reconnects += 1
        if trusted:  # once a suspicion: aiokafka retries a refused connection every 100 ms
            log.warning(
                "the consumer reconnects to a broker it reads from, whose log may be new after "
                "a restart: it rejoins its group and delivers nothing until it is assigned again",
                extra={"consumer": coordinator.group_id, "node": node_id},
            )

    def _trust_log(self, coordinator: Any) -> None:
        """At an assignment (before faust seeks to the committed offsets): the log is trusted
        again, unless a rejoin was requested after this assignment's SyncGroup was sent
        (aiokafka resets its rejoin request as it sends SyncGroup, and sends no other while
        this callback runs): that reconnection may have reached a broker restarted since,
        and aiokafka's next assignment follows."""
        reconnects = self._fetch_reconnects
        if not coordinator._rejoin_needed_fut.done():
            self._trusted_reconnects = reconnects

    async def perform_seek(self) -> None:
        """faust's seek to the committed offsets and its bookkeeping of them, unless a
        rebalance began meanwhile: a seek begun in an earlier assignment (faust's getmany
        seeks when its flow was stopped) would write that assignment's offsets over what the
        revocation cleared, possibly a restarted broker's old log's; the current assignment's
        own seek writes them. Where the broker holds nothing committed, nothing is recorded
        as committed either (faust kept what it recorded before, and would then ignore every
        acknowledgement below it)."""
        begun_in = self.assignment_epoch
        committed = await self.seek_to_committed()
        if begun_in != self.assignment_epoch:
            return
        for tp, offset in committed.items():
            key = ensure_TP(tp)
            self._read_offset[key] = offset if offset is not None and offset >= 0 else None
            if offset:
                self._committed_offset[key] = offset
            else:
                self._committed_offset.pop(key, None)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """faust's seek to the committed offsets, and to the beginning where nothing is
        committed (SPEC section 4). aiokafka's own leaves such a partition where it was, and
        faust relies on this seek to read again what it dropped (records fetched while its
        flow was stopped for a rebalance): in a group re-created by a broker restart they
        were never read again, and the consumer stalled at the end of the new log."""
        committed = await super().seek_to_committed()
        uncommitted = [tp for tp, offset in committed.items() if not offset]
        if uncommitted:
            await self._thread.seek_to_beginning(*uncommitted)
        return committed

    def verify_event_path(self, now: float, tp: TP) -> None:
        """faust's livelock check of ``tp``, once its fetch position is known: faust reads
        it unchecked, and aiokafka's assertion would crash the consumer
        (``shared.streaming.event_path``)."""
        kafka_consumer = self._thread._consumer
        if kafka_consumer is None or fetch_position_known(kafka_consumer, tp):
            super().verify_event_path(now, tp)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.assignment_epoch += 1
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self.assignment_epoch += 1
        kafka_consumer = self._thread._ensure_consumer()
        coordinator = kafka_consumer._coordinator
        refuse_commits_without_membership(coordinator, lambda: self.log_may_be_new)
        watch_fetch_reconnects(kafka_consumer, partial(self._suspect_new_log, coordinator))
        self._trust_log(coordinator)
        await super().on_partitions_assigned(assigned, generation_id)

    async def _commit_tps(self, tps: Iterable[TP], start_new_transaction: bool) -> bool:
        token = _COMMIT.set(_Commit(self.assignment_epoch))  # faust computes the offsets now
        try:
            return bool(await super()._commit_tps(tps, start_new_transaction))
        finally:
            _COMMIT.reset(token)

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        commit = _COMMIT.get()
        if commit is None or commit.begun_in == self.assignment_epoch:
            did_commit = bool(await super()._commit(offsets))
        else:
            did_commit = False  # offsets of an earlier assignment: not sent
        if commit is not None and commit.begun_in != self.assignment_epoch:
            # no await from here until faust records the offsets: keep the current ones
            committed = self._committed_offset
            commit.restore = {tp: committed.get(tp) for tp in offsets}
            log.info(
                "a commit begun before the last rebalance is not recorded as this assignment's "
                "(nor sent, if it was not yet): its events are read again, the inbox drops them",
                extra={"consumer": self.app.conf.id},
            )
        return did_commit

    async def _commit_offsets(
        self, offsets: Mapping[TP, int], start_new_transaction: bool = True
    ) -> bool:
        did_commit = bool(await super()._commit_offsets(offsets, start_new_transaction))
        commit = _COMMIT.get()
        if commit is not None and commit.restore is not None:
            for tp, offset in commit.restore.items():  # the current assignment's, as they were
                if offset is None:
                    self._committed_offset.pop(tp, None)
                else:
                    self._committed_offset[tp] = offset
        return did_commit


class GuardedTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport, handing out ``GuardedConsumer``; its consumers' fetch
    wait is ``fetch_max_wait_seconds`` (``shared.streaming.fetch_wait``)."""

    Consumer = GuardedConsumer
    fetch_max_wait_seconds = DEFAULT_FETCH_MAX_WAIT_SECONDS
