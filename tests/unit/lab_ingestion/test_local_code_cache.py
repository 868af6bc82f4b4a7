"""The running service's copy of the local code mappings: read at start, re-read while it
runs, kept as last read when a read fails, and never holding up a stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import pytest

from services.lab_ingestion.adapters.local_code_cache import LocalCodeCache

ROW = {"application": "LIS", "facility": "HOSP", "system": "L", "code": "CRP", "loinc": "1988-5"}


class FakeTable:
    """``fetch`` as asyncpg answers the read: the rows kept now, or the error set; also the
    pool that lends the connection."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows
        self.error: Exception | None = None
        self.reads = 0
        self.read = asyncio.Event()  # set at each read

    async def reads_made(self, count: int) -> None:
        """Once ``count`` more reads were made."""
        target = self.reads + count
        while self.reads < target:
            self.read.clear()
            await self.read.wait()

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeTable]:
        """A pooled connection: the table answers its reads."""
        yield self

    async def fetch(self, query: str, *args: Any) -> list[dict[str, str]]:
        self.reads += 1
        self.read.set()
        if self.error is not None:
            raise self.error
        return list(self.rows)


def cache(table: FakeTable, every: float = 0.01) -> LocalCodeCache:
    return LocalCodeCache(cast(asyncpg.Pool, table), refresh_seconds=every)


async def test_a_message_parsed_before_the_first_read_waits_for_it() -> None:
    """HTTP listens before migrations run: a message that early must not be read without
    the mappings (a mapped result beside others would be left out, answered AA)."""
    table = FakeTable([ROW])
    codes = cache(table)
    waiting = asyncio.create_task(codes.table())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    said = await codes.load(cast(asyncpg.Connection, table))
    assert said == "lab_ingestion: 1 local codes mapped"
    assert (await waiting).of_sender("LIS", "HOSP") == {("L", "CRP"): "1988-5"}


async def test_a_mapping_to_no_trial_analyte_is_skipped_and_the_others_applied() -> None:
    """A row kept by hand (or by a version whose tables held the code) never stops the
    sender's other results from being read."""
    table = FakeTable([{**ROW, "code": "X", "loinc": "1968-7"}, ROW])
    codes = cache(table)
    await codes.load(cast(asyncpg.Connection, table))
    read = await codes.table()
    assert (len(read), len(read.skipped)) == (1, 1)
    assert read.of_sender("LIS", "HOSP") == {("L", "CRP"): "1988-5"}


async def test_a_mapping_added_while_running_is_read_and_a_failed_read_keeps_the_last() -> None:
    table = FakeTable([])
    codes, stopping = cache(table), asyncio.Event()
    await codes.load(cast(asyncpg.Connection, table))
    running = asyncio.create_task(codes.keep_fresh(stopping))
    await table.reads_made(1)
    table.rows = [ROW]
    await table.reads_made(2)  # the one under way may have read before the row was kept
    assert len(await codes.table()) == 1
    table.error = RuntimeError("any failure at all")
    await table.reads_made(2)
    assert len(await codes.table()) == 1  # the failed reads changed nothing
    assert not running.done()
    stopping.set()
    await asyncio.wait_for(running, timeout=1)


async def test_a_stop_ends_the_wait_at_once() -> None:
    codes, stopping = cache(FakeTable([]), every=3600), asyncio.Event()
    running = asyncio.create_task(codes.keep_fresh(stopping))
    await asyncio.sleep(0)
    stopping.set()
    await asyncio.wait_for(running, timeout=1)


async def test_a_skipped_row_is_logged_when_it_appears_not_at_every_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {**ROW, "code": "X", "loinc": "1968-7"}
    table = FakeTable([bad])
    codes, stopping = cache(table), asyncio.Event()
    await codes.load(cast(asyncpg.Connection, table))
    running = asyncio.create_task(codes.keep_fresh(stopping))
    await table.reads_made(3)
    table.rows = [{**bad, "code": "Y"}]  # another bad row: said again
    await table.reads_made(3)
    stopping.set()
    await running
    said = [r for r in caplog.records if "would misread a result" in r.getMessage()]
    assert len(said) == 2
