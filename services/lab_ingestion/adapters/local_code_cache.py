"""The running service's copy of every sender's local code mappings (``local_codes``): read
before the service takes a message (``load``, run once migrations are done), then re-read
every couple of seconds (``keep_fresh``), so that ``cachexia source code add`` reaches a
running service without a restart, as the allow-list does. The parser takes the copy as it
is (``current``): never a database round trip per message."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from services.lab_ingestion.adapters.local_codes import read_local_code_table
from services.lab_ingestion.domain.local_codes import NO_LOCAL_CODES, LocalCodeTable

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0  # as the allow-list (``SOURCES_TTL_SECONDS``)


class LocalCodeCache:
    def __init__(self, pool: asyncpg.Pool, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._pool = pool
        self._every = refresh_seconds
        self._table = NO_LOCAL_CODES

    def current(self) -> LocalCodeTable:
        return self._table

    async def load(self, conn: asyncpg.Connection) -> str:
        """The first read, on the start-up connection; what was read, for the log."""
        self._table = await read_local_code_table(conn)
        return f"lab_ingestion: {len(self._table)} local codes mapped" if self._table else ""

    async def keep_fresh(self, stopping: asyncio.Event) -> None:
        """Re-read until ``stopping``; a failed read keeps the copy read last (and is read
        again at the next turn)."""
        while True:
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self._every)
                return
            except TimeoutError:
                await self._refresh()

    async def _refresh(self) -> None:
        try:
            table = await read_local_code_table(self._pool)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning(
                "could not re-read the local code mappings; the last read is used",
                extra={"error": type(exc).__name__},
            )
            return
        if len(table) != len(self._table):
            log.info("local code mappings read", extra={"mapped": len(table)})
        self._table = table
