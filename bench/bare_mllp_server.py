"""Reference for the MLLP benchmark: the same MLLP and HL7 code as lab-ingestion (python-hl7
streams, ``parse_oru``, ``build_ack``) that answers every message without storing anything.

    python bench/bare_mllp_server.py PORT
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from functools import partial

from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, build_ack, parse_oru
from services.lab_ingestion.domain.model import LabMessage

Store = Callable[[LabMessage], Awaitable[None]]


async def answer(
    reader: HL7StreamReader, writer: HL7StreamWriter, store: Store | None = None
) -> None:
    """Parse each message and answer it; with ``store``, only after it was stored."""
    try:
        while True:
            block = await reader.readblock()
            try:
                message, header = parse_oru(block.decode())
                if store is not None:
                    await store(message)
                ack = build_ack(header, "AA", control_id=uuid.uuid4().hex[:20])
            except Hl7InputError as error:
                ack = build_ack(error.header, "AR", text=error.reason, control_id="x")
            writer.writeblock(ack.encode())
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def serve(port: int, store: Store | None = None) -> None:
    server = await start_hl7_server(partial(answer, store=store), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
