"""The running service's copy of every sender's local code mappings (``local_codes``): read
once migrations are done (``load``), then re-read every couple of seconds (``keep_fresh``),
so that ``cachexia source code add`` reaches a running service without a restart, as the
allow-list does. A message is parsed with the copy as it is (``table``): never a database
round trip per message, and never before the first read (HTTP listens before migrations
run: a message that early waits for it, as it waits for the committer)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from services.lab_ingestion.adapters.local_codes import read_local_code_table
from services.lab_ingestion.domain.local_codes import NO_LOCAL_CODES, LocalCodeTable
from shared.db.pooled import pooled

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0  # as the allow-list (``SOURCES_TTL_SECONDS``)


class LocalCodeCache:
    def __init__(self, pool: asyncpg.Pool, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._pool = pool
        self._every = refresh_seconds
        self._table = NO_LOCAL_CODES
        self._loaded = asyncio.Event()

    async def table(self) -> LocalCodeTable:
        """The mappings as last read, once they were read at all."""
        if not self._loaded.is_set():
            await self._loaded.wait()
        return self._table

    async def load(self, conn: asyncpg.Connection) -> str:
        """The first read, on the start-up connection; what was read, for the log."""
        self._keep(await read_local_code_table(conn))
        self._loaded.set()
        return f"lab_ingestion: {len(self._table)} local codes mapped" if self._table else ""

    async def keep_fresh(self, stopping: asyncio.Event) -> None:
        """Re-read until ``stopping``; a failed read keeps the copy read last (and is read
        again at the next turn): no failure of it stops the service."""
        while True:
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self._every)
                return
            except TimeoutError:
                await self._refresh()

    async def _refresh(self) -> None:
        try:
            async with pooled(self._pool) as conn:
                table = await read_local_code_table(conn)
        except Exception as exc:  # any failure: the last read stays in use
            log.warning(
                "could not re-read the local code mappings; the last read is used",
                extra={"error": type(exc).__name__},
            )
            return
        self._keep(table)

    def _keep(self, table: LocalCodeTable) -> None:
        if table.skipped and table.skipped != self._table.skipped:  # once, not every read
            log.error(
                "local code mappings that would misread a result are not applied (a target "
                "of no trial analyte, or a LOINC code as the local code)",
                extra={"skipped": len(table.skipped)},
            )
        if table != self._table:
            log.info("local code mappings read", extra={"mapped": len(table)})
        self._table = table
