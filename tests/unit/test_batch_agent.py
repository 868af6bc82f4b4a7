"""BatchAgent never lets faust acknowledge a batch that was not applied."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shared.messaging.consumed import ConsumedMessage
from shared.metrics import ConsumerMetrics
from shared.streaming.faust_app import BatchAgent, create_faust_app


class FakeStream:
    """Hands over batches like faust's ``take_events``; records which batches were acked."""

    def __init__(self, batches: list[list[Any]]) -> None:
        self.batches = batches
        self.acked: list[list[Any]] = []

    async def take_events(self, size: int, within: float) -> AsyncIterator[list[Any]]:
        del size, within
        for batch in self.batches:
            yield batch
            self.acked.append(batch)  # faust acks once the consumer asks for the next batch


def event(offset: int) -> Any:
    message = SimpleNamespace(
        topic="lab.results.v1", partition=0, offset=offset, key=b"k", value=b"{}"
    )
    return SimpleNamespace(message=message)


class FakeProcessor:
    consumer = "test"

    def __init__(self, fail_on: int | None = None) -> None:
        self.fail_on = fail_on
        self.applied: list[list[int]] = []

    async def process_until_done(
        self, messages: Sequence[ConsumedMessage], should_stop: Callable[[], bool]
    ) -> None:
        del should_stop
        offsets = [m.offset for m in messages]
        if self.fail_on in offsets:
            raise RuntimeError("the dead-letter table is gone")
        self.applied.append(offsets)


def agent(tmp_path: Path, processor: FakeProcessor, exits: list[str]) -> BatchAgent:
    app = create_faust_app("unit-test", "127.0.0.1:1", tmp_path)
    return BatchAgent(
        app, ["lab.results.v1"], processor,  # type: ignore[arg-type]  # a hand-written fake
        ConsumerMetrics(CollectorRegistry(), "test"),
        batch_size=10, batch_window_seconds=0.01, shutdown_deadline_seconds=1,
        on_unapplied_at_shutdown=lambda: exits.append("exit"),
    )  # fmt: skip


async def test_applied_batches_are_acknowledged(tmp_path: Path) -> None:
    processor = FakeProcessor()
    exits: list[str] = []
    stream = FakeStream([[event(0), event(1)], [event(2)]])
    await agent(tmp_path, processor, exits)._run(stream)
    assert processor.applied == [[0, 1], [2]]
    assert len(stream.acked) == 2
    assert exits == []


async def test_a_batch_that_fails_is_never_acknowledged(tmp_path: Path) -> None:
    processor = FakeProcessor(fail_on=2)
    exits: list[str] = []
    stream = FakeStream([[event(0), event(1)], [event(2)], [event(3)]])
    with pytest.raises(RuntimeError):
        await agent(tmp_path, processor, exits)._run(stream)
    assert processor.applied == [[0, 1]]
    assert len(stream.acked) == 1  # the failed batch and everything after it stay unacknowledged
    assert exits == ["exit"]
