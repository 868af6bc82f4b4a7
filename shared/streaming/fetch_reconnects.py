"""Tells a consumer that its aiokafka client reconnects to a broker it reads from or whose
group coordinator it talks to.

A TCP connection ends with the broker process it reached (``shared.messaging.fence``). The
embedded broker keeps its logs in memory, so a connection opened again may reach a restarted
broker whose logs are new: records fetched through it at the consumer's old positions are
not the events those positions meant, and an offset commit sent through it with the old
membership is taken (the re-created group is empty) though its offsets are the old log's.
Two kinds of connection count: the one that carries records (aiokafka fetches from each
assigned partition's leader, faust sets no ``client_rack``, over the node's default
connection, which metadata and offset requests to that node share), and the coordination
connection (heartbeats, joins, commits: never idle while the consumer is a member). A
default connection to any other node carries nothing of ours; on Apache Kafka such
connections are closed when idle (``connections_max_idle_ms``, 9 minutes) and opened again
by the next metadata request to a random node, which must not cost a rebalance every few
minutes.

A first connection to a node is no reconnection (the consumer has read nothing through it).
aiokafka opens every connection through ``AIOKafkaClient._get_conn`` (the bootstrap
connection aside, which it closes once it knows the cluster); the watch wraps that method of
the consumer's client, and runs, as the client does, in faust's consumer thread.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aiokafka.client import ConnectionGroup
from aiokafka.errors import KafkaConnectionError

_DEFAULT = ConnectionGroup.DEFAULT
_COORDINATION = ConnectionGroup.COORDINATION

# set while an offset commit request is being sent (see ``sending_a_commit``)
_SENDING_COMMIT: ContextVar[bool] = ContextVar("sending_a_commit", default=False)


def sending_a_commit() -> ContextVar[bool]:
    """Set to True around the sending of an offset commit: a connection opened again for it
    then fails the attempt (retriable: aiokafka tries again, and the commit guard, told of
    the reconnection, refuses it). A commit never reaches a broker through a connection
    opened since the consumer's group membership was established there."""
    return _SENDING_COMMIT


def fetches_from(kafka_consumer: Any, node_id: int) -> bool:
    """True if ``node_id`` leads a partition assigned to ``kafka_consumer`` (aiokafka's)."""
    cluster = kafka_consumer._client.cluster
    return any(cluster.leader_for_partition(tp) == node_id for tp in kafka_consumer.assignment())


def watch_fetch_reconnects(kafka_consumer: Any, on_reconnect: Callable[[int], None]) -> None:
    """Call ``on_reconnect(node_id)`` whenever the client of ``kafka_consumer`` (aiokafka's
    ``AIOKafkaConsumer``) is about to open again the default connection to a node that leads
    one of its assigned partitions: before the connection exists, so before any record of
    the broker it reaches is fetched. Installed once; connections the client has when it is
    installed count as opened before."""
    client = kafka_consumer._client
    if getattr(client, "_ccs_watches_fetch_reconnects", False):
        return
    get_conn: Callable[..., Any] = client._get_conn
    opened: set[tuple[int, Any]] = {key for key in list(client._conns) if _is_node(*key)}

    async def get_conn_watched(
        node_id: Any, *, group: Any = _DEFAULT, no_hint: bool = False
    ) -> Any:
        key = (node_id, group)
        if _is_node(node_id, group):
            existing = client._conns.get(key)
            reopening = existing is None or not existing.connected()
            if reopening and key in opened and _reads_or_coordinates(kafka_consumer, key):
                on_reconnect(node_id)
                if _SENDING_COMMIT.get():
                    raise KafkaConnectionError("reconnected while committing: not sent")
        conn = await get_conn(node_id, group=group, no_hint=no_hint)
        if conn is not None and _is_node(node_id, group):
            opened.add(key)
        return conn

    client._get_conn = get_conn_watched
    client._ccs_watches_fetch_reconnects = True


def _reads_or_coordinates(kafka_consumer: Any, key: tuple[int, Any]) -> bool:
    """The connection carries records (see above), or the group's requests: a commit sent
    through a connection opened again may reach a restarted broker, which takes the offsets
    of the old log from the member it no longer knows as long as the group is empty."""
    node_id, group = key
    return group == _COORDINATION or fetches_from(kafka_consumer, node_id)


def _is_node(node_id: Any, group: Any) -> bool:
    """A broker's connection of the default or the coordination group (not the bootstrap
    one, whose id is a string)."""
    return isinstance(node_id, int) and group in (_DEFAULT, _COORDINATION)
