"""The MLLP benchmark's rates are of the messages it sent (review 117): ``push`` sends as
many over each of its 8 connections (N // 8 * 8), while each round's rate counted the N asked
for: a round of 1,003 was reported as 1,003 messages when 1,000 were sent."""

from __future__ import annotations

import asyncio

from bench.infra import free_port
from bench.ingest_mllp import CONNECTIONS, push, sendable
from bench.mllp_report import Tally

ACK = b"\x0bMSH|^~\\&|ACK\rMSA|AA|1\r\x1c\r"


async def test_a_round_counts_the_messages_sent_not_those_asked_for() -> None:
    received = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        try:
            while True:
                await reader.readuntil(b"\x1c\r")
                received += 1
                writer.write(ACK)
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    try:
        asked = 3 * CONNECTIONS + 5
        pushed = await push(port, 0, asked)
    finally:
        server.close()
        await server.wait_closed()
    assert pushed.sent == received == sendable(asked) == 3 * CONNECTIONS
    assert len(pushed.latencies) == pushed.sent and pushed.errors == 0
    tally = Tally()
    tally.add(pushed, 0.0)
    tally.add(pushed, 0.0)
    assert tally.sent == 2 * received
    assert tally.rates == [received / pushed.elapsed] * 2
