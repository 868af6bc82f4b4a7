"""A frame whose commit is under way when the service stops gets its ACK under the real
runtime's stop: it cancelled every background task at once, the group committer's too, and
the commit was cut off (its outcome unknown), the sender's future never resolved and the
connection closed without an ACK. Background tasks now end on their own first."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from services.lab_ingestion.entrypoints.mllp import shutdown_grace
from services.lab_ingestion.service_layer.commands import Command, IngestOutcome
from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from shared.db.pool import TRANSIENT_DB_ERRORS
from shared.runtime import ServiceRuntime
from shared.service import ServiceDefinition, ServiceParts
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import frame, obx, oru
from tests.unit.lab_ingestion.test_mllp_listener import connect, free_port
from tests.unit.lab_ingestion.test_mllp_shutdown_keepalive import listener_with

CRP = [obx("1988-5", "12", "mg/L")]


async def test_a_commit_under_way_at_a_runtime_stop_is_answered(tmp_path: Path) -> None:
    committed: list[Command] = []

    async def process(commands: Sequence[Command]) -> list[IngestOutcome]:
        await asyncio.sleep(0.5)  # a commit under way when SIGTERM arrives (well within grace)
        committed.extend(commands)
        return [IngestOutcome(accepted=True, results=1) for _ in commands]

    committer: GroupCommitter[Command, IngestOutcome] = GroupCommitter(
        process, transient=TRANSIENT_DB_ERRORS
    )
    settings = PlatformSettings(data_dir=tmp_path)
    definition = ServiceDefinition(
        "lab-ingestion", "lab_ingestion", tmp_path, lambda context: ServiceParts()
    )
    runtime = ServiceRuntime(definition, settings)
    port = free_port()
    grace = shutdown_grace(settings.shutdown_deadline_seconds)  # 2 s, as bootstrap sets it
    listener = listener_with(committer.submit, port, grace=grace)
    # the two background tasks exactly as bootstrap.build hands them to the runtime
    runtime._spawn("commit", committer.run(runtime.stopping))
    runtime._spawn("serve_mllp", listener.serve(runtime.stopping))

    reader, writer = await connect(port)
    writer.write(frame(oru("INFLIGHT-RT", CRP)))
    await writer.drain()
    await asyncio.sleep(0.2)  # parsed and submitted; the commit is under way
    await asyncio.wait_for(runtime.stop(), 10)  # SIGTERM
    answer = await asyncio.wait_for(reader.read(), 2)
    writer.close()
    assert b"MSA|AA|INFLIGHT-RT" in answer, (answer, f"committed={len(committed)}")
