"""Tells a consumer that its aiokafka client reconnects to a broker it fetches from.

A TCP connection ends with the broker process it reached (``shared.messaging.fence``). The
embedded broker keeps its logs in memory, so a connection opened again to a broker the
consumer fetches from may reach a restarted broker whose logs are new: records fetched
through it at the consumer's old positions are not the events those positions meant. Only
the connection that carries records counts: aiokafka fetches from each assigned partition's
leader (faust sets no ``client_rack``, so no follower is read) over the node's default
connection, which metadata and offset requests to that node share. A connection to any other
node, or of the group coordinator, carries no record; on Apache Kafka such connections are
closed when idle (``connections_max_idle_ms``, 9 minutes) and opened again by the next
metadata request to a random node, which must not cost a rebalance every few minutes.

A first connection to a node is no reconnection (the consumer has read nothing through it).
aiokafka opens every connection through ``AIOKafkaClient._get_conn`` (the bootstrap
connection aside, which it closes once it knows the cluster); the watch wraps that method of
the consumer's client, and runs, as the client does, in faust's consumer thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka.client import ConnectionGroup

_DEFAULT = ConnectionGroup.DEFAULT


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
    opened: set[int] = {node for node, group in list(client._conns) if _is_node(node, group)}

    async def get_conn_watched(
        node_id: Any, *, group: Any = _DEFAULT, no_hint: bool = False
    ) -> Any:
        if _is_node(node_id, group):
            existing = client._conns.get((node_id, group))
            reopening = existing is None or not existing.connected()
            if reopening and node_id in opened and fetches_from(kafka_consumer, node_id):
                on_reconnect(node_id)
        conn = await get_conn(node_id, group=group, no_hint=no_hint)
        if conn is not None and _is_node(node_id, group):
            opened.add(node_id)
        return conn

    client._get_conn = get_conn_watched
    client._ccs_watches_fetch_reconnects = True


def _is_node(node_id: Any, group: Any) -> bool:
    """A broker's default connection (not the bootstrap one, whose id is a string)."""
    return isinstance(node_id, int) and group == _DEFAULT
