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

On Apache Kafka both cases are rare (a group is empty only if every member left), and the
guard costs nothing but a re-read of what was in flight during a rebalance.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from aiokafka.errors import UnknownMemberIdError
from aiokafka.protocol.commit import OffsetCommitRequest
from aiokafka.protocol.group import JoinGroupRequest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, ConsumerMessage, Message

log = logging.getLogger(__name__)

_NO_GENERATION = OffsetCommitRequest.DEFAULT_GENERATION_ID
_NO_MEMBER = JoinGroupRequest.UNKNOWN_MEMBER_ID


def is_group_member(coordinator: Any) -> bool:
    """True while aiokafka's group coordinator holds a generation and a member id."""
    return bool(coordinator.generation != _NO_GENERATION and coordinator.member_id != _NO_MEMBER)


def refuse_commits_without_membership(coordinator: Any) -> None:
    """Make ``coordinator`` (aiokafka's ``GroupCoordinator``) refuse every offset commit
    request it would send without a group membership. Checked as each request is built, so
    a commit that aiokafka retries across a lost membership is refused too. The refusal is
    aiokafka's own for a commit after a rebalance (``CommitFailedError``), which faust takes
    as "not committed" and goes on."""
    if getattr(coordinator, "_ccs_refuses_commits_without_membership", False):
        return
    send: Callable[[Any, Any], Awaitable[None]] = coordinator._do_commit_offsets

    async def commit_as_member(assignment: Any, offsets: Any) -> None:
        if offsets and not is_group_member(coordinator):
            log.warning(
                "offset commit refused: the consumer is not a member of its group (it "
                "rejoins); what it applied meanwhile is read again and the inbox drops it",
                extra={"consumer": coordinator.group_id},
            )
            raise UnknownMemberIdError("not a member of the group: commit refused")
        await send(assignment, offsets)

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

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.assignment_epoch += 1
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self.assignment_epoch += 1
        refuse_commits_without_membership(self._thread._ensure_consumer()._coordinator)
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
    """faust's aiokafka transport, handing out ``GuardedConsumer``."""

    Consumer = GuardedConsumer
