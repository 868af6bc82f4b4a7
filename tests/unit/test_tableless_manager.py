"""Every service's faust app keeps no tables: its table manager starts as faust's does (the
channels updated, then recovery started), without faust's one-second wait for tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
