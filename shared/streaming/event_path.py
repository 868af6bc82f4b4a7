"""Which partitions faust's livelock check may look at without crashing the consumer.

Every 2.5 commit intervals faust (0.15) checks each assigned partition's "event path"
(``verify_event_path``: fetched lately? processed? committed?) and reads the partition's
fetch position from aiokafka's state for it. aiokafka asserts that a position is known, and
it is not while a partition awaits an offset reset: between a seek to its beginning and the
ListOffsets answer, which the fetcher asks for only once the fetch it has in flight ends (a
long poll, up to 1.5 s) or, while the broker is down, not at all. The assertion ends faust's
check, which crashes the consumer: it stops fetching for good, and its agents apply nothing.

The consumer seeks to the beginning whenever its group holds no offset for a partition
(``GuardedConsumer.seek_to_committed``): at every assignment after a restart of the
embedded broker, and when faust seeks back after a rebalance. The check then saw, about one
restart in eight, a partition with a high-water mark from the fetches before and no
position, and the consumer stopped delivering the new log. Such a partition has nothing to
check yet (its next fetch has not begun): it is skipped until its position is known (the
consumer lag, ``shared.streaming.lag``, shows a partition that stays behind).
"""

from __future__ import annotations

from typing import Any

from aiokafka.structs import TopicPartition
from faust.types import TP


def fetch_position_known(kafka_consumer: Any, tp: TP) -> bool:
    """True if ``tp`` is assigned to ``kafka_consumer`` (aiokafka's) and its fetch position
    is known (it does not await an offset reset)."""
    subscription = kafka_consumer._fetcher._subscriptions.subscription
    assignment = None if subscription is None else subscription.assignment
    if assignment is None:
        return False
    state = assignment.state_value(TopicPartition(tp.topic, tp.partition))
    return state is not None and bool(state.has_valid_position)
