"""Every service's faust app keeps no tables: its table manager starts as faust's does (the
channels updated, then recovery started), without faust's one-second wait for tables."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from faust.tables.manager import TableManager

from shared.streaming.faust_app import create_faust_app
from shared.streaming.no_tables import TablelessManager


class Steps:
    """What the manager's start did (faust's steps need a running consumer)."""

    def __init__(self) -> None:
        self.done: list[str] = []

    async def update_channels(self) -> None:
        self.done.append("channels")

    async def start(self) -> None:
        self.done.append("recovery")

    async def sleep(self, seconds: Any) -> None:
        self.done.append(f"sleep {seconds}")


async def test_the_table_manager_starts_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = create_faust_app("tableless", "127.0.0.1:9", tmp_path).tables
    assert isinstance(manager, TablelessManager)
    steps = Steps()
    monkeypatch.setattr(manager, "_update_channels", steps.update_channels)
    monkeypatch.setattr(manager, "_recovery", steps)  # its start counted
    monkeypatch.setattr(manager, "sleep", steps.sleep)  # faust's wait, counted
    await manager.on_start()
    assert steps.done == ["channels", "recovery"]


FAUST_ON_START = '''    async def on_start(self) -> None:
        """Call when table manager is starting."""
        await self.sleep(1.0)
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
'''


def test_faust_starts_its_table_manager_as_the_tableless_one_copies() -> None:
    """TablelessManager.on_start is faust 0.15.3's without the sleep (review 174): a faust
    that starts its table manager otherwise must be read again before it is taken."""
    assert inspect.getsource(TableManager.on_start) == FAUST_ON_START
