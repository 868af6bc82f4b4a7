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
from collections.abc import Iterator

from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server
from hl7.mllp.streams import START_BLOCK

from services.lab_ingestion.adapters.hl7_ack import INTERNAL_ERROR
from services.lab_ingestion.adapters.hl7_charset import decode_message
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp_streams import (
    HEADER_BYTES,
    LINE_NOISE,
    Skipped,
    begun_frame,
    blocks_of,
    empty,
    frame_end,
    header_line,
    keep_alive,
    peer_address,
    peer_gone,
    read_frame,
    skip_block,
)
from services.lab_ingestion.entrypoints.mllp_watch import FrameWatch
from shared.contracts.events.lab import Channel
from shared.listening import BindFailed

log = logging.getLogger(__name__)

# A laboratory keeps a few connections open; each may buffer a frame of up to the message
# limit, so an unbounded number (anyone who reaches the port, before the allow-list is read)
# could exhaust memory. A connection beyond the cap is closed at once.
MAX_CONNECTIONS = 32
# At the cap, a new connection takes the slot of the one idle longest (no frame begun or
# being answered, nothing sent for at least this long): whoever holds every slot open (a
# port scanner, a hostile host, a misconfigured engine opening one connection per message)
# would otherwise lock the laboratories out for good. A lab's engine whose idle connection
# was closed opens a new one for its next message.
YIELD_SLOT_AFTER_IDLE_SECONDS = 10.0
# A frame begun and then not continued for this long (a stalled or hostile sender) ends its
# connection, kept as a truncated frame; an idle connection between frames may wait for ever
# (as long as its peer is there: ``mllp_streams.keep_alive``). So does a frame not ended
# within the deadline of its first byte (one trickled a byte at a time never stalls; no lab
# engine takes minutes to send a megabyte on a LAN). Settings: ``mllp_frame_*_seconds``.
FRAME_STALL_SECONDS = 60.0
FRAME_DEADLINE_SECONDS = 300.0
# An ACK not taken by its peer within this long ends its connection (aborted): a peer that
# sends frames and never reads their ACKs would otherwise hold its slot for good, being
# answered, and 32 such would lock every laboratory out (review 132). The message is stored
# by then: a lab's resend is answered as a duplicate. Setting: ``mllp_send_seconds``.
SEND_SECONDS = 20.0
SEND_TIMED_OUT = "MLLP connection aborted: its ACK not taken within the send deadline"
# At shutdown, frames being answered (the committer still commits what was submitted) get
# their ACK for at most this share of the shutdown deadline, and at most this long.
SHUTDOWN_GRACE_SHARE = 0.25
SHUTDOWN_GRACE_MAX_SECONDS = 2.0
CANCELLED_CONNECTIONS_END_SECONDS = 0.5
STRAY_BYTES = "bytes outside an MLLP frame (before its <VT>), kept apart from the frame after"
ABANDONED_BLOCK = "MLLP frame abandoned: a new frame began before <FS><CR>"
NO_START_BLOCK = "MLLP frame does not start with <VT> (0x0B)"
TOO_LARGE = "message larger than {limit} bytes"
# a block over the limit not answered is kept (its copy empty) with why, as any other
TRUNCATED = "connection closed in the middle of an MLLP frame (truncated message)"
RESET = "connection reset in the middle of an MLLP frame (truncated message)"
LARGER = "; it was larger than {limit} bytes"


def shutdown_grace(deadline_seconds: float) -> float:
    """How long, of a shutdown deadline, frames being answered may take to get their ACK."""
    return min(SHUTDOWN_GRACE_MAX_SECONDS, deadline_seconds * SHUTDOWN_GRACE_SHARE)


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
        self._connections: set[asyncio.Task[None]] = set()
        self._max_connections = max_connections
        self._yield_slot_after = yield_slot_after_idle_seconds
        self._last_active: dict[asyncio.Task[None], float] = {}  # opened, or last ACK sent
        # each open connection's streams, for the sweep of frames that take too long (no
        # timer per frame: the hot path pays a clock read), which keeps each one's clock
        self._streams: dict[asyncio.Task[None], tuple[HL7StreamReader, HL7StreamWriter]] = {}
        self._watch = FrameWatch(frame_stall_seconds, frame_deadline_seconds, time.monotonic)
        # connections discarding a block over the limit, and how much of it so far (the
        # stall sweep sees it grow; such a connection is not idle)
        self._skipping: dict[asyncio.Task[None], int] = {}
        # connections between a complete frame and its ACK sent: at shutdown they finish
        self._answering: set[asyncio.Task[None]] = set()
        self._grace = shutdown_grace_seconds
        self._send_seconds = send_seconds
        self._peers: dict[asyncio.Task[None], str | None] = {}  # each connection's address
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
        for task in self._connections - self._answering:
            task.cancel()  # between frames, or in one not complete: nothing was submitted
        ends = asyncio.get_running_loop().time() + self._grace
        cancelled = False
        while self._answering and (left := ends - asyncio.get_running_loop().time()) > 0:
            try:
                await asyncio.wait(set(self._answering), timeout=left)
            except asyncio.CancelledError:
                cancelled = True
        leftover = set(self._connections)
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
        if len(self._connections) >= self._max_connections and not self._free_a_slot():
            log.warning("MLLP connection refused: too many open, none idle",
                        extra={"limit": self._max_connections})  # fmt: skip
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            self._streams[task] = (reader, writer)
            self._last_active[task] = asyncio.get_running_loop().time()
            self._peers[task] = peer_address(writer)
            self._watch.watch(task)
        keep_alive(writer)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # a defect: no ACK for this frame, the sender resends it
            # the type only: an error's text can quote the input
            log.error("MLLP connection closed on an internal error",
                      extra={"error": type(exc).__name__})  # fmt: skip
        finally:
            if task is not None:
                self._connections.discard(task)
                self._streams.pop(task, None)
                self._watch.forget(task)
                self._last_active.pop(task, None)
                self._peers.pop(task, None)
            writer.close()

    def _free_a_slot(self) -> bool:
        """Close the connection idle longest, if one has been idle long enough (its own
        task ends it: it is cancelled between frames, where nothing was submitted)."""
        now = asyncio.get_running_loop().time()
        idle = [task for task, (reader, _) in self._streams.items()
                if task not in self._answering and task not in self._skipping
                and not begun_frame(reader)
                and now - self._last_active.get(task, now) >= self._yield_slot_after]  # fmt: skip
        if not idle:
            return False
        longest = min(idle, key=lambda task: self._last_active[task])
        log.info("MLLP connection closed: idle longest, its slot taken by a new one",
                 extra={"idle_seconds": round(now - self._last_active[longest], 1)})  # fmt: skip
        longest.cancel()
        self._connections.discard(longest)
        self._streams.pop(longest, None)
        return True

    async def _converse(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a connection's own task

        def came() -> None:
            self._watch.on_data(task, lambda: begun_frame(reader) > 0)

        while not self._stopping:  # at shutdown, the frame being answered is the last
            try:
                frame = await read_frame(reader, self._limit, came)
            except asyncio.IncompleteReadError as incomplete:
                if incomplete.partial.strip():  # being kept: its slot is not given up
                    with self._answering_a_frame():
                        await self._keep_truncated(incomplete.partial, reader)
                return
            except asyncio.LimitOverrunError:
                if await self._over_the_limit(reader, writer):
                    continue
                return  # the stream ended in the middle of a block over the limit
            with self._answering_a_frame():
                await self._answer_frame(writer, frame)

    async def _over_the_limit(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> bool:
        """More than the limit came before a frame's end. What precedes its last block begun
        is kept as ever (stray bytes, blocks abandoned: each complete, and buffered); when
        that block fits the limit, it is read as any frame; else it is discarded up to its
        end (``_skip_too_large``). False: the stream ended in the middle of it."""
        buffer = reader._buffer  # what read_frame left: more than the limit
        end = frame_end(buffer)
        scope = end[0] if end is not None else len(buffer)
        start = buffer.rfind(START_BLOCK, 0, scope)
        if start > 0:
            before = bytes(buffer[:start]).lstrip(LINE_NOISE)
            del buffer[:start]
            with self._answering_a_frame():
                await self._keep_unanswered(before + START_BLOCK)  # all before the <VT>
            if scope - start <= self._limit:
                return True
        return await self._skip_too_large(reader, writer)

    async def _skip_too_large(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> bool:
        """Discard the block over the limit at the start of the buffer up to its end, never
        holding it whole (``skip_block``); answer it AR echoing its MSH (read from its
        head) when its frame ends, so that the sender can match the AR to the message and
        stop resending it, and go on with the next frame; kept unanswered when a new block
        begins first, or the stream ends. Its kept copy is empty: it is not held."""
        task = asyncio.current_task()
        assert task is not None  # a connection's own task
        head = bytes(reader._buffer[:HEADER_BYTES])
        no_start_block = not head.lstrip(LINE_NOISE).startswith(START_BLOCK)
        msh = header_line(head)
        self._skipping[task] = 0

        def skipped(size: int) -> None:
            self._skipping[task] += size
            self._watch.on_data(task, lambda: True)

        try:
            ending = await skip_block(reader, skipped)
        finally:
            size = self._skipping.pop(task)
        log.warning("MLLP frame over the size limit discarded",
                    extra={"limit": self._limit, "bytes": size, "ending": ending.name})  # fmt: skip
        with self._answering_a_frame():
            if ending is Skipped.ENDED:  # timed from its frame's end, as any frame
                started = time.perf_counter()
                ack = await self._acknowledger.reject_frame(
                    b"", RejectionCode.MALFORMED, TOO_LARGE.format(limit=self._limit),
                    condition=INTERNAL_ERROR, header_from=msh, peer=self._peer(),
                )  # fmt: skip
                await self._answer(writer, ack, started, decode_message(msh).codec)
                return True
            if ending is Skipped.TRUNCATED:
                unanswered = self._truncated_reason(reader)
            else:  # a new block began
                unanswered = STRAY_BYTES if no_start_block else ABANDONED_BLOCK
            await self._acknowledger.reject_frame(
                b"", RejectionCode.MALFORMED, unanswered + LARGER.format(limit=self._limit),
                peer=self._peer(),
            )  # fmt: skip
        return ending is not Skipped.TRUNCATED

    def _truncated_reason(self, reader: HL7StreamReader) -> str:
        """Why a frame was cut short: the sweep ended it, or the peer reset or closed."""
        task = asyncio.current_task()
        cut = self._watch.cut(task) if task is not None else None
        return cut or (RESET if peer_gone(reader) else TRUNCATED)

    async def _keep_truncated(self, partial: bytes, reader: HL7StreamReader) -> None:
        reason = self._truncated_reason(reader)
        block = await self._keep_unanswered(partial)
        if block.strip(LINE_NOISE):
            await self._acknowledger.reject_frame(
                block, RejectionCode.MALFORMED, reason, peer=self._peer()
            )

    async def _answer_frame(self, writer: HL7StreamWriter, frame: bytes) -> None:
        started = time.perf_counter()
        block = await self._keep_unanswered(frame.lstrip(LINE_NOISE))
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

    async def _keep_unanswered(self, data: bytes) -> bytes:
        """Keep as rejections what precedes the last <VT> of ``data`` (a frame without its
        end); return the block from that <VT> on (``data`` when it holds none)."""
        *unanswered, block = blocks_of(data)
        for piece in unanswered:  # no ACK: a sender that moved on expects none
            reason = ABANDONED_BLOCK if piece.startswith(START_BLOCK) else STRAY_BYTES
            kept = piece
            if len(piece) > self._limit:  # buffered before a frame over the limit: not kept
                kept, reason = b"", reason + LARGER.format(limit=self._limit)
            await self._acknowledger.reject_frame(
                kept, RejectionCode.MALFORMED, reason, peer=self._peer()
            )
        return block

    @contextlib.contextmanager
    def _answering_a_frame(self) -> Iterator[None]:
        """From a complete frame to its ACK sent: a shutdown lets this finish (grace). The
        frame's clock stops meanwhile; the next frame is timed from its end."""
        task = asyncio.current_task()
        if task is not None:
            self._answering.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._answering.discard(task)
                if (streams := self._streams.get(task)) is not None:
                    self._watch.frame_done(task, begun_frame(streams[0]) > 0)

    async def _answer(
        self, writer: HL7StreamWriter, ack: str, started: float, charset: str = "utf-8"
    ) -> None:
        """Send ``ack`` and observe its latency: every ACK of a frame is timed."""
        await self._send(writer, ack, charset)
        if (task := asyncio.current_task()) in self._last_active:
            self._last_active[task] = asyncio.get_running_loop().time()
        latency = self._metrics.child(self._metrics.ack_latency, Channel.MLLP.value)
        latency.observe(time.perf_counter() - started)

    async def _sweep_stalled_frames(self) -> None:
        """Every few seconds, close each connection whose frame has not been continued for
        the stall period or not ended within the deadline (``mllp_watch``): its reader then
        ends with the partial frame, which is kept. A block over the limit being discarded
        has begun too; a connection answering a frame is not looked at (its ACK's send is
        bounded by the send deadline instead: ``_send``)."""
        while True:
            await asyncio.sleep(self._watch.interval)
            for task, (reader, writer) in list(self._streams.items()):
                if task in self._answering:
                    continue
                begun = task in self._skipping or begun_frame(reader) > 0
                if self._watch.overdue(task, begun) is not None:
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
        task = asyncio.current_task()
        return self._peers.get(task) if task is not None else None
