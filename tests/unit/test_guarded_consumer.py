"""The commit guard sends a commit only as a member of the group (see guarded_consumer)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import UnknownMemberIdError
from faust.transport.conductor import Conductor
from faust.types import TP

from shared.streaming.faust_app import create_faust_app
from shared.streaming.guarded_consumer import (
    GuardedConsumer,
    is_group_member,
    refuse_commits_without_membership,
)


class FakeCoordinator:
    group_id = "crp-monitor"

    def __init__(self, generation: int, member_id: str) -> None:
        self.generation = generation
        self.member_id = member_id
        self.sent: list[Any] = []

    async def _do_commit_offsets(self, assignment: Any, offsets: Any) -> None:
        self.sent.append(offsets)


async def test_a_member_commits() -> None:
    coordinator = FakeCoordinator(3, "crp-monitor-1")
    refuse_commits_without_membership(coordinator)
    await coordinator._do_commit_offsets(None, {"tp": 5})
    assert coordinator.sent == [{"tp": 5}]


@pytest.mark.parametrize(("generation", "member_id"), [(-1, ""), (-1, "m-1"), (4, "")])
async def test_no_commit_is_sent_without_a_generation_and_a_member_id(
    generation: int, member_id: str
) -> None:
    coordinator = FakeCoordinator(generation, member_id)
    refuse_commits_without_membership(coordinator)
    with pytest.raises(UnknownMemberIdError):
        await coordinator._do_commit_offsets(None, {"tp": 5})
    assert coordinator.sent == []
    assert not is_group_member(coordinator)


async def test_the_guard_follows_the_membership_and_is_installed_once() -> None:
    coordinator = FakeCoordinator(3, "m-1")
    refuse_commits_without_membership(coordinator)
    refuse_commits_without_membership(coordinator)  # a second assignment: no second wrapper
    coordinator.generation, coordinator.member_id = -1, ""  # the broker forgot the member
    with pytest.raises(UnknownMemberIdError):
        await coordinator._do_commit_offsets(None, {"tp": 5})
    coordinator.generation, coordinator.member_id = 1, "m-2"  # rejoined
    await coordinator._do_commit_offsets(None, {"tp": 6})
    assert coordinator.sent == [{"tp": 6}]


def test_every_platform_faust_app_uses_the_guarded_consumer(tmp_path: Path) -> None:
    app = create_faust_app("unit-test", "127.0.0.1:1", tmp_path)
    assert isinstance(app.consumer, GuardedConsumer)


def record(offset: int) -> Any:
    return SimpleNamespace(
        topic="lab.results.v1", partition=0, offset=offset, timestamp=None, timestamp_type=0,
        headers=[], key=b"S-1", value=b"{}", checksum=None, serialized_key_size=3,
        serialized_value_size=2,
    )  # fmt: skip


async def test_an_event_read_before_a_rebalance_is_never_counted_as_done_after_it(
    tmp_path: Path,
) -> None:
    app = create_faust_app("unit-test", "127.0.0.1:1", tmp_path)
    topics = app.topics
    assert isinstance(topics, Conductor)
    topics.add(app.topic("lab.results.v1"))  # acks are tracked for a topic the app reads
    await topics._update_indices()  # what faust does as the consumer subscribes
    consumer = app.consumer
    assert isinstance(consumer, GuardedConsumer)
    tp = TP("lab.results.v1", 0)
    old = consumer._to_message(tp, record(7))
    consumer.assignment_epoch += 1  # what a revocation does
    new = consumer._to_message(tp, record(0))

    assert consumer.ack(old) is False
    assert old.acked  # done with: faust will not wait for it
    assert consumer.ack(new) is True
    assert list(consumer._acked[tp]) == [0]  # the offset of the old log is not there
    assert consumer.stale_acks_dropped == 1
