"""The MLLP listener at shutdown (a frame being committed still gets its ACK, within a grace
period) and its TCP keepalive (a peer that vanished frees its slot)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp import MllpListener, shutdown_grace
from services.lab_ingestion.service_layer.commands import Command, IngestOutcome
from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from shared.db.pool import TRANSIENT_DB_ERRORS
from tests.integration.lab_fixtures import frame, obx, oru
from tests.unit.lab_ingestion.test_mllp_listener import connect, free_port

CRP = [obx("1988-5", "12", "mg/L")]


def listener_with(
    submit: Callable[[Command], Awaitable[IngestOutcome]], port: int, grace: float = 2.0
) -> MllpListener:
    metrics = LabIngestionMetrics(CollectorRegistry())
    acknowledger = Hl7Acknowledger(submit, lambda s: "h" * 64, metrics)
    return MllpListener(
        acknowledger, metrics, "127.0.0.1", port, 1 << 20, shutdown_grace_seconds=grace
    )


async def accept_all(command: Command) -> IngestOutcome:
    return IngestOutcome(accepted=True, results=1)


def slow_committer(
    seconds: float, committed: list[Command]
) -> GroupCommitter[Command, IngestOutcome]:
    async def process(commands: Sequence[Command]) -> list[IngestOutcome]:
        await asyncio.sleep(seconds)  # a commit under way when the stop is requested
        committed.extend(commands)
        return [IngestOutcome(accepted=True, results=1) for _ in commands]

    return GroupCommitter(process, transient=TRANSIENT_DB_ERRORS)


async def test_a_message_committed_during_shutdown_is_answered_and_idle_ones_close_at_once() -> (
    None
):
    """As bootstrap wires them, the committer and the listener share ``stopping``: the
    committer still commits what was submitted, so its sender gets the ACK."""
    committed: list[Command] = []
    committer = slow_committer(0.5, committed)
    port, stopping = free_port(), asyncio.Event()
    commit = asyncio.create_task(committer.run(stopping))
    serving = asyncio.create_task(listener_with(committer.submit, port).serve(stopping))
    idle_reader, idle_writer = await connect(port)
    reader, writer = await connect(port)
    writer.write(frame(oru("INFLIGHT-1", CRP)))
    await writer.drain()
    await asyncio.sleep(0.2)  # parsed and submitted; the commit is under way
    stopping.set()  # SIGTERM
    assert await asyncio.wait_for(idle_reader.read(), 0.3) == b""  # not held for the grace
    answer = await asyncio.wait_for(reader.read(), 5)  # the ACK, then the connection closes
    await asyncio.wait_for(asyncio.gather(commit, serving), 5)
    writer.close()
    idle_writer.close()
    assert len(committed) == 1
    assert b"MSA|AA|INFLIGHT-1" in answer, answer


async def test_the_runtime_cancelling_the_listener_still_lets_the_ack_out() -> None:
    """The runtime cancels its background tasks during the stop: the listener still lets
    the frame being answered have its ACK (within the grace), and only then ends."""
    committed: list[Command] = []
    committer = slow_committer(0.5, committed)
    port, stopping = free_port(), asyncio.Event()
    commit = asyncio.create_task(committer.run(stopping))
    serving = asyncio.create_task(listener_with(committer.submit, port).serve(stopping))
    reader, writer = await connect(port)
    writer.write(frame(oru("INFLIGHT-2", CRP)))
    await writer.drain()
    await asyncio.sleep(0.2)
    stopping.set()
    await asyncio.sleep(0.05)
    serving.cancel()
    await asyncio.wait({serving}, timeout=5)
    assert serving.cancelled() and len(committed) == 1  # it ended once the ACK was out
    answer = await asyncio.wait_for(reader.read(), 0.2)
    writer.close()
    await asyncio.wait_for(commit, 5)
    assert b"MSA|AA|INFLIGHT-2" in answer, answer


async def test_a_commit_outlasting_the_grace_period_is_left_unanswered_in_time() -> None:
    committer = slow_committer(2.0, [])
    port, stopping = free_port(), asyncio.Event()
    commit = asyncio.create_task(committer.run(stopping))
    serving = asyncio.create_task(listener_with(committer.submit, port, grace=0.2).serve(stopping))
    reader, writer = await connect(port)
    writer.write(frame(oru("SLOW-1", CRP)))
    await writer.drain()
    await asyncio.sleep(0.2)
    started = time.monotonic()
    stopping.set()
    await asyncio.wait_for(serving, 2)
    assert time.monotonic() - started < 1.0
    assert await asyncio.wait_for(reader.read(), 1) == b""  # closed; the sender resends
    writer.close()
    commit.cancel()
    await asyncio.gather(commit, return_exceptions=True)


def test_the_grace_period_is_a_share_of_the_shutdown_deadline() -> None:
    assert shutdown_grace(8.0) == 2.0
    assert shutdown_grace(2.0) == 0.5


async def test_accepted_connections_have_tcp_keepalive() -> None:
    """A peer that vanished (a rebooted host, a firewall that dropped the idle flow) sends
    no FIN: only keepalive probes find its connection dead and free its slot."""
    port, stopping = free_port(), asyncio.Event()
    listener = listener_with(accept_all, port)
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        _, writer = await connect(port)
        await asyncio.sleep(0.1)
        ((_, server_side),) = listener._streams.values()  # the accepted connection
        sock = server_side.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        if hasattr(socket, "TCP_KEEPIDLE"):  # Linux
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 10
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 6
        writer.close()
    finally:
        stopping.set()
        await serving
