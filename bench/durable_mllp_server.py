"""Diagnostic for the MLLP benchmark: the least any durable MLLP server does, on the same
MLLP and HL7 code as lab-ingestion and the same PostgreSQL.

It parses each message (``parse_oru``), stores one narrow row per message, committed in
groups (whatever arrived during the previous commit, one statement), and answers AA only
after the commit; no matching, results, outbox, relay or metrics. Its rate against the bare
server shows what a durable ACK itself costs on the machine, apart from what lab-ingestion
does for the trial (a diagnostic next to the bar, not a bar).

    DATABASE_URL=postgresql://... python bench/durable_mllp_server.py PORT

The DSN comes from the environment, not the command line, which every local user may
read: it holds the embedded PostgreSQL's password (review 132).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg

from bench.bare_mllp_server import serve
from services.lab_ingestion.domain.model import LabMessage

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench_durable;
CREATE TABLE IF NOT EXISTS bench_durable.messages (
    message_id uuid PRIMARY KEY,
    source     text NOT NULL,
    control_id text NOT NULL,
    UNIQUE (source, control_id)
);
"""
INSERT = """INSERT INTO bench_durable.messages
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING"""

Waiting = tuple[LabMessage, asyncio.Future[None]]


class DurableServer:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._queue: asyncio.Queue[Waiting] = asyncio.Queue()

    async def commit_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            messages = [m for m, _ in batch]
            await self._conn.execute(
                INSERT,
                [uuid.uuid4() for _ in messages],
                [m.source for m in messages],
                [m.control_id for m in messages],
            )
            for _, stored in batch:
                stored.set_result(None)

    async def store(self, message: LabMessage) -> None:
        stored = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((message, stored))
        await stored


async def main(port: int, dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute(SCHEMA)
    server = DurableServer(conn)
    await asyncio.gather(server.commit_forever(), serve(port, server.store))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), os.environ["DATABASE_URL"]))
