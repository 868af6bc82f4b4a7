"""The MLLP listener at shutdown (a frame being committed still gets its ACK, within a grace
period) and its TCP keepalive (a peer that vanished frees its slot)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_limits import shutdown_grace
from services.lab_ingestion.service_layer.commands import Command, IngestOutcome
from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from shared.db.pool import TRANSIENT_DB_ERRORS
from tests.integration.lab_fixtures import frame, obx, oru
from tests.unit.lab_ingestion.test_mllp_listener import connect

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


# How long a step that is due may take (a busy machine, the suite's workers side by side):
# only a defect reaches it. No test here times how long a step took.
DUE = 10.0
# A grace the tests never reach: an ACK that comes proves it was waited for, a connection
# that closes while the commit is still held proves it was not kept for the grace.
LONG_GRACE = 30.0


class HeldCommits:
    """A group committer whose commit, once begun (``started``), waits for ``release``: a
    commit under way for as long as a test needs, never for a guessed time."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.committed: list[Command] = []
        self.committer: GroupCommitter[Command, IngestOutcome] = GroupCommitter(
            self._process, transient=TRANSIENT_DB_ERRORS
        )

    async def _process(self, commands: Sequence[Command]) -> list[IngestOutcome]:
        self.started.set()  # parsed, submitted, and its commit begun
        await self.release.wait()
        self.committed.extend(commands)
        return [IngestOutcome(accepted=True, results=1) for _ in commands]


async def until(condition: Callable[[], bool], turns: int = 10_000) -> None:
    """Turns of the event loop until ``condition`` holds (counted, not timed)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"not so after {turns} turns of the event loop")


async def end(
    stopping: asyncio.Event,
    held: HeldCommits,
    tasks: Sequence[asyncio.Task[None]],
    writers: Sequence[asyncio.StreamWriter],
) -> None:
    """Whatever the test asserted: the session shares one event loop, so nothing of a test
    (its listener, its committer, its connections) runs on into the next."""
    stopping.set()
    held.release.set()
    for writer in writers:
        writer.close()
    _, pending = await asyncio.wait(tasks, timeout=DUE)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_message_committed_during_shutdown_is_answered_and_idle_ones_close_at_once() -> (
    None
):
    """As bootstrap wires them, the committer and the listener share ``stopping``: the
    committer still commits what was submitted, so its sender gets the ACK; an idle
    connection is closed at once, not kept for the grace."""
    held = HeldCommits()
    port, stopping = free_port(), asyncio.Event()
    commit = asyncio.create_task(held.committer.run(stopping))
    listener = listener_with(held.committer.submit, port, grace=LONG_GRACE)
    serving = asyncio.create_task(listener.serve(stopping))
    writers: list[asyncio.StreamWriter] = []
    try:
        idle_reader, idle_writer = await connect(port)
        reader, writer = await connect(port)
        writers += [idle_writer, writer]
        writer.write(frame(oru("INFLIGHT-1", CRP)))
        await writer.drain()
        await asyncio.wait_for(held.started.wait(), DUE)  # the commit is under way
        stopping.set()  # SIGTERM
        # closed while the commit is still held: not kept for the grace
        assert await asyncio.wait_for(idle_reader.read(), DUE) == b""
        assert not held.committed
        held.release.set()
        answer = await asyncio.wait_for(reader.read(), DUE)  # the ACK, then the close
        await asyncio.wait_for(asyncio.gather(commit, serving), DUE)
    finally:
        await end(stopping, held, [commit, serving], writers)
    assert len(held.committed) == 1
    assert b"MSA|AA|INFLIGHT-1" in answer, answer


async def test_the_runtime_cancelling_the_listener_still_lets_the_ack_out() -> None:
    """The runtime cancels its background tasks during the stop: the listener still lets
    the frame being answered have its ACK (within the grace), and only then ends."""
    held = HeldCommits()
    port, stopping = free_port(), asyncio.Event()
    commit = asyncio.create_task(held.committer.run(stopping))
    listener = listener_with(held.committer.submit, port, grace=LONG_GRACE)
    serving = asyncio.create_task(listener.serve(stopping))
    writers: list[asyncio.StreamWriter] = []
    try:
        reader, writer = await connect(port)
        writers.append(writer)
        writer.write(frame(oru("INFLIGHT-2", CRP)))
        await writer.drain()
        await asyncio.wait_for(held.started.wait(), DUE)
        stopping.set()
        await until(lambda: listener._stopping)  # closing its connections
        serving.cancel()
        for _ in range(20):  # the cancellation delivered: it still waits for the ACK
            await asyncio.sleep(0)
        assert not serving.done()
        held.release.set()
        await asyncio.wait({serving}, timeout=DUE)
        assert serving.cancelled() and len(held.committed) == 1  # it ended once the ACK was out
        answer = await asyncio.wait_for(reader.read(), DUE)
    finally:
        await end(stopping, held, [commit, serving], writers)
    assert b"MSA|AA|INFLIGHT-2" in answer, answer


async def test_a_commit_outlasting_the_grace_period_is_left_unanswered_in_time() -> None:
    """The grace over, the listener ends while the commit is still under way (held here
    until the test ends): its connection closes without an ACK, and the sender resends."""
    held = HeldCommits()
    port, stopping = free_port(), asyncio.Event()
    commit = asyncio.create_task(held.committer.run(stopping))
    serving = asyncio.create_task(
        listener_with(held.committer.submit, port, grace=0.2).serve(stopping)
    )
    writers: list[asyncio.StreamWriter] = []
    try:
        reader, writer = await connect(port)
        writers.append(writer)
        writer.write(frame(oru("SLOW-1", CRP)))
        await writer.drain()
        await asyncio.wait_for(held.started.wait(), DUE)
        stopping.set()
        await asyncio.wait_for(asyncio.shield(serving), DUE)  # the commit never ended
        assert not held.committed
        assert await asyncio.wait_for(reader.read(), DUE) == b""  # closed; the sender resends
    finally:
        await end(stopping, held, [commit, serving], writers)


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
        ((_, server_side),) = listener._open.streams.values()  # the accepted connection
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
