"""The MLLP listener: frames in, one ACK per frame out, using python-hl7's MLLP streams.

Messages on one connection are answered in order; a message split across TCP reads is
reassembled by the stream reader; a frame ends at <FS><CR>, or at an <FS> followed directly
by the <VT> of the next frame (``mllp_streams.frame_end``: both are answered); a frame
without its start byte is answered AR and kept;
a connection closed or reset in the middle of a frame leaves a rejection record (nobody is
left to answer), and so does one ended for a frame that stalled or took too long
(``mllp_watch``). A block is delimited by <VT> (0x0B, never a byte of a valid message's text): what
precedes a frame's last <VT> (stray bytes, a block abandoned for a new one) is kept as a
rejection and not answered (its sender moved on), and the last block is answered, unless it
is empty (a keep-alive: counted, neither answered nor kept). A block over the size limit is
discarded up to its end, never held whole, and answered AR echoing its MSH; the connection
goes on with the next frame. An ACK its peer does not take within the send deadline (one
that never reads) ends the connection, aborted: a connection being answered is never swept
nor idle, and would hold its slot for good. At
shutdown, a frame being answered gets its ACK (within a grace period); then the
connections close. TCP keepalive finds a peer that vanished without closing its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server
from hl7.mllp.streams import START_BLOCK

from services.lab_ingestion.adapters.hl7_charset import decode_message
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp_connections import OpenConnections
from services.lab_ingestion.entrypoints.mllp_limits import (
    CANCELLED_CONNECTIONS_END_SECONDS,
    FRAME_DEADLINE_SECONDS,
    FRAME_STALL_SECONDS,
    MAX_CONNECTIONS,
    NO_START_BLOCK,
    SEND_SECONDS,
    SEND_TIMED_OUT,
    SHUTDOWN_GRACE_MAX_SECONDS,
    YIELD_SLOT_AFTER_IDLE_SECONDS,
)
from services.lab_ingestion.entrypoints.mllp_streams import (
    LINE_NOISE,
    begun_frame,
    empty,
    keep_alive,
    read_frame,
)
from services.lab_ingestion.entrypoints.mllp_unanswered import UnansweredFrames
from services.lab_ingestion.entrypoints.mllp_watch import FrameWatch
from shared.contracts.events.lab import Channel
from shared.listening import BindFailed

log = logging.getLogger(__name__)


class MllpListener:
    def __init__(
        self,
        acknowledger: Hl7Acknowledger,
        metrics: LabIngestionMetrics,
        host: str,
        port: int,
        max_message_bytes: int,
        *,
        max_connections: int = MAX_CONNECTIONS,
        frame_stall_seconds: float = FRAME_STALL_SECONDS,
        frame_deadline_seconds: float = FRAME_DEADLINE_SECONDS,
        shutdown_grace_seconds: float = SHUTDOWN_GRACE_MAX_SECONDS,
        yield_slot_after_idle_seconds: float = YIELD_SLOT_AFTER_IDLE_SECONDS,
        send_seconds: float = SEND_SECONDS,
    ) -> None:
        self._acknowledger = acknowledger
        self._metrics = metrics
        self._host = host
        self._port = port
        self._limit = max_message_bytes
        self._max_connections = max_connections
        self._yield_slot_after = yield_slot_after_idle_seconds
        # each open connection's streams are swept for frames that take too long (no timer
        # per frame: the hot path pays a clock read); the watch keeps each one's clock
        self._open = OpenConnections(
            FrameWatch(frame_stall_seconds, frame_deadline_seconds, time.monotonic)
        )
        self._unanswered = UnansweredFrames(
            acknowledger, self._open, max_message_bytes, self._answer
        )
        self._grace = shutdown_grace_seconds
        self._send_seconds = send_seconds
        self._stopping = False
        self._listening = asyncio.Event()

    async def listening(self) -> None:
        """Return once the listener takes connections."""
        await self._listening.wait()

    async def serve(self, stopping: asyncio.Event) -> None:
        try:
            server = await start_hl7_server(
                self._on_connection, self._host, self._port, limit=self._limit,
                reuse_address=True,
            )  # fmt: skip
        except OSError as error:  # the runtime names the address and the setting to change
            raise BindFailed(self._host, self._port, error) from error
        self._listening.set()
        log.info("MLLP listener started", extra={"port": self._port})
        sweep = asyncio.ensure_future(self._sweep_stalled_frames())
        try:
            await stopping.wait()
        finally:
            sweep.cancel()
            server.close()  # no new connection
            await self._close_connections()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await server.wait_closed()

    async def _close_connections(self) -> None:
        """No frame is read any more; the connections answering one send its ACK (its
        message may be stored by now) for at most the grace period, then all are cancelled.
        Cancelled itself meanwhile (the runtime's stop), it still waits out the grace."""
        self._stopping = True
        for task in self._open.tasks - self._open.answering:
            task.cancel()  # between frames, or in one not complete: nothing was submitted
        ends = asyncio.get_running_loop().time() + self._grace
        cancelled = False
        while self._open.answering and (left := ends - asyncio.get_running_loop().time()) > 0:
            try:
                await asyncio.wait(set(self._open.answering), timeout=left)
            except asyncio.CancelledError:
                cancelled = True
        leftover = set(self._open.tasks)
        for task in leftover:
            task.cancel()
        if leftover:  # each ends at its next step (so its socket is closed before we return)
            await asyncio.wait(leftover, timeout=CANCELLED_CONNECTIONS_END_SECONDS)
        if cancelled:
            raise asyncio.CancelledError

    async def _on_connection(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        if self._stopping:  # accepted just before the listener closed
            writer.close()
            return
        if len(self._open) >= self._max_connections and not self._free_a_slot():
            self._metrics.connections_refused.inc()
            log.warning("MLLP connection refused: too many open, none idle",
                        extra={"limit": self._max_connections})  # fmt: skip
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._open.open(task, reader, writer)
            self._metrics.connections_open.set(len(self._open))
        keep_alive(writer)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # a defect: no ACK for this frame, the sender resends it
            self._metrics.connection_errors.inc()
            # the type only: an error's text can quote the input
            log.error("MLLP connection closed on an internal error",
                      extra={"error": type(exc).__name__})  # fmt: skip
        finally:
            if task is not None:
                self._open.close(task)
                self._metrics.connections_open.set(len(self._open))
            writer.close()

    def _free_a_slot(self) -> bool:
        """Close the connection idle longest, if one has been idle long enough."""
        idle = self._open.free_a_slot(self._yield_slot_after)
        if idle is None:
            return False
        self._metrics.connections_evicted.inc()
        log.info("MLLP connection closed: idle longest, its slot taken by a new one",
                 extra={"idle_seconds": round(idle, 1)})  # fmt: skip
        return True

    async def _converse(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a connection's own task

        def came() -> None:
            self._open.watch.on_data(task, lambda: begun_frame(reader) > 0)

        while not self._stopping:  # at shutdown, the frame being answered is the last
            try:
                frame = await read_frame(reader, self._limit, came)
            except asyncio.IncompleteReadError as incomplete:
                if incomplete.partial.strip():  # being kept: its slot is not given up
                    with self._open.answering_a_frame():
                        await self._unanswered.keep_truncated(incomplete.partial, reader)
                return
            except asyncio.LimitOverrunError:
                if await self._unanswered.over_the_limit(reader, writer):
                    continue
                return  # the stream ended in the middle of a block over the limit
            with self._open.answering_a_frame():
                await self._answer_frame(writer, frame)

    async def _answer_frame(self, writer: HL7StreamWriter, frame: bytes) -> None:
        started = time.perf_counter()
        block = await self._unanswered.keep_unanswered(frame.lstrip(LINE_NOISE))
        if empty(block):  # a keep-alive: an ACK would be paired with the next message
            self._metrics.empty_frames.inc()
            log.debug("MLLP empty frame: not answered")
            return
        if block.startswith(START_BLOCK):
            _, ack = await self._acknowledger.acknowledge(
                block[1:], Channel.MLLP, peer=self._peer()
            )
        else:  # no <VT> in the frame at all
            ack = await self._acknowledger.reject_frame(
                block, RejectionCode.MALFORMED, NO_START_BLOCK, peer=self._peer()
            )
        codec = decode_message(block.removeprefix(START_BLOCK)).codec  # as the acknowledger's
        await self._answer(writer, ack, started, codec)

    async def _answer(
        self, writer: HL7StreamWriter, ack: str, started: float, charset: str = "utf-8"
    ) -> None:
        """Send ``ack`` and observe its latency: every ACK of a frame is timed."""
        await self._send(writer, ack, charset)
        self._open.answered(asyncio.current_task())
        latency = self._metrics.child(self._metrics.ack_latency, Channel.MLLP.value)
        latency.observe(time.perf_counter() - started)

    async def _sweep_stalled_frames(self) -> None:
        """Every few seconds, close each connection whose frame has not been continued for
        the stall period or not ended within the deadline (``mllp_watch``): its reader then
        ends with the partial frame, which is kept. A block over the limit being discarded
        has begun too; a connection answering a frame is not looked at (its ACK's send is
        bounded by the send deadline instead: ``_send``)."""
        while True:
            await asyncio.sleep(self._open.watch.interval)
            for task, (reader, writer) in list(self._open.streams.items()):
                if task in self._open.answering:
                    continue
                begun = task in self._open.skipping or begun_frame(reader) > 0
                if self._open.watch.overdue(task, begun) is not None:
                    writer.close()

    async def _send(self, writer: HL7StreamWriter, ack: str, charset: str = "utf-8") -> None:
        """The ACK in the character set the message was read in (``decode_message``), so
        that MSA-2 is the sender's MSH-10 byte for byte (a character the set lacks, in our
        own text, becomes ?). Not sent when the peer is gone (reset: what it sent before is
        still read, and its last frame kept). Not taken within the send deadline (a peer
        that does not read), the connection is aborted (ConnectionAbortedError ends it)."""
        if writer.transport.is_closing():
            return
        writer.writeblock(ack.encode(charset, errors="replace"))
        try:
            async with asyncio.timeout(self._send_seconds):
                await writer.drain()
        except TimeoutError:
            writer.transport.abort()  # what is buffered is dropped: no ACK will be read
            self._metrics.send_timeouts.inc()
            log.warning(SEND_TIMED_OUT, extra={"send_seconds": self._send_seconds})
            raise ConnectionAbortedError(SEND_TIMED_OUT) from None

    def _peer(self) -> str | None:
        """The address of the connection being served (None: not known)."""
        return self._open.peer(asyncio.current_task())
