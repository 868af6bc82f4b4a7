"""A frame whose commit is under way when the service stops gets its ACK under the real
runtime's stop: it cancelled every background task at once, the group committer's too, and
the commit was cut off (its outcome unknown), the sender's future never resolved and the
connection closed without an ACK. Background tasks now end on their own first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.infra import free_port
from services.lab_ingestion.entrypoints.mllp_limits import shutdown_grace
from shared.runtime import ServiceRuntime
from shared.service import ServiceDefinition, ServiceParts
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import frame, obx, oru
from tests.unit.lab_ingestion.test_mllp_listener import connect
from tests.unit.lab_ingestion.test_mllp_shutdown_keepalive import (
    DUE,
    HeldCommits,
    listener_with,
    until,
)

CRP = [obx("1988-5", "12", "mg/L")]


async def test_a_commit_under_way_at_a_runtime_stop_is_answered(tmp_path: Path) -> None:
    held = HeldCommits()  # its commit waits until the stop is under way
    settings = PlatformSettings(data_dir=tmp_path)
    definition = ServiceDefinition(
        "lab-ingestion", "lab_ingestion", tmp_path, lambda context: ServiceParts()
    )
    runtime = ServiceRuntime(definition, settings)
    port = free_port()
    grace = shutdown_grace(settings.shutdown_deadline_seconds)  # 2 s, as bootstrap sets it
    listener = listener_with(held.committer.submit, port, grace=grace)
    # the two background tasks exactly as bootstrap.build hands them to the runtime
    runtime._spawn("commit", held.committer.run(runtime.stopping))
    runtime._spawn("serve_mllp", listener.serve(runtime.stopping))

    stop: asyncio.Task[None] | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await connect(port)
        writer.write(frame(oru("INFLIGHT-RT", CRP)))
        await writer.drain()
        await asyncio.wait_for(held.started.wait(), DUE)  # the commit is under way
        stop = asyncio.create_task(runtime.stop())  # SIGTERM
        await until(runtime.stopping.is_set)
        for _ in range(20):  # the stop's first steps taken: a cancellation would be now
            await asyncio.sleep(0)
        held.release.set()  # the commit ends within the grace
        await asyncio.wait_for(asyncio.shield(stop), DUE)
        answer = await asyncio.wait_for(reader.read(), DUE)
    finally:
        held.release.set()
        if writer is not None:
            writer.close()
        if stop is None:
            stop = asyncio.create_task(runtime.stop())
        await asyncio.wait({stop}, timeout=DUE)  # nothing of it runs on into the next test
    assert b"MSA|AA|INFLIGHT-RT" in answer, (answer, f"committed={len(held.committed)}")
