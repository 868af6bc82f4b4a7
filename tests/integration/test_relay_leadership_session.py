"""A relay publishes only while the session holding its leadership lock is alive.

Scaled out (README "Broker restarts": one relay per schema publishes, advisory lock), each
instance's relay holds a session-level advisory lock on one pooled connection and reads,
publishes and marks through others. When that one session ends on its own (an operator's
``pg_terminate_backend``, PostgreSQL's ``idle_session_timeout``, a firewall dropping the idle
TCP connection) the lock is released and another instance's relay leads. A relay that went
on publishing then published every event the two overlapped on twice (219 of 300 here).
So the relay confirms its session before each batch and keeps it busy with a keep-alive
(``shared/messaging/relay_leadership.py``), stops when it is gone, and competes again.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_RESULTS
from shared.embedded.tansu import EmbeddedTansu
from tests.factories import crp_result
from tests.integration.messaging_fixtures import (
    make_relay,
    migrated_pool,
    read_topic,
    record,
    wait_until,
)

pytestmark = pytest.mark.integration

_LEADER = """SELECT l.pid FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.database =
                   (SELECT oid FROM pg_database WHERE datname = current_database())"""


async def test_a_relay_whose_leadership_session_ended_stops_publishing(
    database: str, broker: EmbeddedTansu
) -> None:
    servers = broker.bootstrap_servers
    pool_a = await migrated_pool(database, "producer")  # instance A
    pool_b = await migrated_pool(database, "producer")  # instance B, the same schema
    admin = await asyncpg.connect(database)
    stopping = asyncio.Event()
    relay_a = asyncio.create_task(make_relay(pool_a, servers, "producer").run(stopping))

    async def one_leader() -> bool:
        return len(await admin.fetch(_LEADER)) == 1

    await wait_until(one_leader)
    (leader_a,) = [r["pid"] for r in await admin.fetch(_LEADER)]
    relay_b = asyncio.create_task(make_relay(pool_b, servers, "producer").run(stopping))
    await asyncio.sleep(1.5)  # B waits for leadership

    # A's leadership session ends on its own (the rest of A's pool is untouched)
    await admin.fetchval("SELECT pg_terminate_backend($1)", leader_a)

    async def b_leads() -> bool:
        return [r["pid"] for r in await admin.fetch(_LEADER)] not in ([], [leader_a])

    await wait_until(b_leads)

    events = [crp_result(f"S-{i % 7}", 10.0 + i) for i in range(300)]
    for i in range(0, len(events), 3):  # results committed one small batch after another
        await record(pool_a, LAB_RESULTS, events[i : i + 3], commit=True)
        await asyncio.sleep(0.01)

    async def all_published() -> bool:
        left: int = await admin.fetchval(
            "SELECT count(*) FROM producer.outbox WHERE published_at IS NULL"
        )
        return left == 0

    await wait_until(all_published, timeout=30)
    await asyncio.sleep(1.0)
    stopping.set()
    await asyncio.wait_for(asyncio.gather(relay_a, relay_b), 20)

    values = await read_topic(servers, LAB_RESULTS, len(events))
    ids = [Envelope.from_bytes(v).event_id for v in values]
    twice = len(ids) - len(set(ids))
    assert set(ids) == {e.event_id for e in events}
    assert twice == 0, f"{twice} events published twice: two relays published at once"
    await admin.close()
    await pool_a.close()
    await pool_b.close()


async def test_the_leadership_session_outlives_idle_session_timeout(
    database: str, broker: EmbeddedTansu
) -> None:
    """The keep-alive keeps PostgreSQL from ending the idle leadership session: leadership
    would otherwise change hands at every timeout, each time a chance of duplicates."""
    servers = broker.bootstrap_servers
    setup = await asyncpg.connect(database)
    name = await setup.fetchval("SELECT current_database()")
    await setup.execute(f"ALTER DATABASE \"{name}\" SET idle_session_timeout = '2500ms'")
    await setup.close()
    pool = await migrated_pool(database, "producer")
    admin = await asyncpg.connect(database, server_settings={"idle_session_timeout": "0"})
    stopping = asyncio.Event()
    relay = asyncio.create_task(make_relay(pool, servers, "producer").run(stopping))

    async def one_leader() -> bool:
        return len(await admin.fetch(_LEADER)) == 1

    await wait_until(one_leader)
    (leader,) = [r["pid"] for r in await admin.fetch(_LEADER)]
    await asyncio.sleep(6.0)  # more than twice the timeout, with nothing to publish
    assert [r["pid"] for r in await admin.fetch(_LEADER)] == [leader], (
        "the leadership session was ended while idle"
    )

    event = crp_result("S-1", 12.0)
    await record(pool, LAB_RESULTS, [event], commit=True)
    values = await read_topic(servers, LAB_RESULTS, 1)
    assert [Envelope.from_bytes(v).event_id for v in values] == [event.event_id]
    stopping.set()
    await asyncio.wait_for(relay, 20)
    await admin.close()
    await pool.close()
