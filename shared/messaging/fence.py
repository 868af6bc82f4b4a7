"""A fence around the relay's producer: it sends only to a broker the relay has checked.

The embedded broker keeps its logs in memory. A producer that reconnects on its own after
the broker was restarted would put the next events at offset 0 of an empty log, ahead of
the lost events the relay has yet to republish: a consumer reading that log would apply
them out of order. So the producer's client may open a connection only while the relay
opens a session (``open_session``), right before it reads back what the broker holds;
the relay trusts those connections once the read-back confirmed the broker (or once it
queued every retained event again). A TCP connection ends with the broker process it
reached, so a trusted connection that is still open reaches the broker that was checked.

Any other connection the producer wants is refused (its batches are retried and expire,
failing the publish), and ``trusted`` turns false; the relay checks again before it
publishes. aiokafka opens every connection through ``AIOKafkaClient._get_conn`` (the
bootstrap connection aside, which it closes once it knows the cluster); the fence wraps
that method of the one client it guards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka.client import AIOKafkaClient, ConnectionGroup


@dataclass(frozen=True)
class Session:
    """The connections a producer had when the relay began to check the broker."""

    connections: tuple[Any, ...] = ()


class ConnectionFence:
    def __init__(self, client: AIOKafkaClient) -> None:
        self._client = client
        self._get_conn = client._get_conn
        client._get_conn = self._fenced_get_conn
        self._opening = False
        self._refused = False
        self._trusted: tuple[Any, ...] = ()

    async def _fenced_get_conn(
        self, node_id: Any, *, group: Any = ConnectionGroup.DEFAULT, no_hint: bool = False
    ) -> Any:
        existing = self._client._conns.get((node_id, group))
        if self._opening or (existing is not None and existing.connected()):
            return await self._get_conn(node_id, group=group, no_hint=no_hint)
        self._refused = True
        return None

    async def open_session(self) -> Session:
        """Connect to every broker of the cluster; the connections open afterwards."""
        self._refused = False
        self._opening = True
        try:
            await self._client.force_metadata_update()
            for broker in self._client.cluster.brokers():
                await self._client.ready(broker.nodeId)
        finally:
            self._opening = False
        return Session(self._open_connections())

    def trust(self, session: Session) -> None:
        self._trusted = session.connections

    def trusted(self) -> bool:
        """Every connection the producer has was open when the broker was last confirmed,
        is still open, and the producer wanted no other."""
        if not self._trusted or self._refused:
            return False
        trusted = {id(c) for c in self._trusted}
        return all(c.connected() for c in self._trusted) and all(
            id(c) in trusted for c in self._open_connections()
        )

    def _open_connections(self) -> tuple[Any, ...]:
        return tuple(c for c in self._client._conns.values() if c.connected())
