"""Frames not read as HL7 on their own: bytes before a frame's last <VT> (stray bytes, a
block abandoned for a new one), kept and not answered (their sender moved on); a frame cut
short (the peer closed or reset, or the sweep ended it), kept; and a block over the size
limit, discarded up to its end, never held whole, and answered AR echoing its MSH."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from hl7.mllp import HL7StreamReader, HL7StreamWriter
from hl7.mllp.streams import START_BLOCK

from services.lab_ingestion.adapters.hl7_ack import INTERNAL_ERROR
from services.lab_ingestion.adapters.hl7_charset import decode_message
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp_connections import OpenConnections
from services.lab_ingestion.entrypoints.mllp_limits import (
    ABANDONED_BLOCK,
    LARGER,
    RESET,
    STRAY_BYTES,
    TOO_LARGE,
    TRUNCATED,
)
from services.lab_ingestion.entrypoints.mllp_streams import (
    HEADER_BYTES,
    LINE_NOISE,
    Skipped,
    blocks_of,
    frame_end,
    header_line,
    peer_gone,
    skip_block,
)

log = logging.getLogger(__name__)

# sends an ACK on a connection and times it: (writer, ack, started, charset)
Answer = Callable[[HL7StreamWriter, str, float, str], Awaitable[None]]


class UnansweredFrames:
    def __init__(
        self, acknowledger: Hl7Acknowledger, connections: OpenConnections, limit: int,
        answer: Answer,
    ) -> None:  # fmt: skip
        self._acknowledger = acknowledger
        self._open = connections
        self._limit = limit
        self._answer = answer

    async def over_the_limit(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> bool:
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
            with self._open.answering_a_frame():
                await self.keep_unanswered(before + START_BLOCK)  # all before the <VT>
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
        self._open.skipping[task] = 0

        def skipped(size: int) -> None:
            self._open.skipping[task] += size
            self._open.watch.on_data(task, lambda: True)

        try:
            ending = await skip_block(reader, skipped)
        finally:
            size = self._open.skipping.pop(task)
        log.warning("MLLP frame over the size limit discarded",
                    extra={"limit": self._limit, "bytes": size, "ending": ending.name})  # fmt: skip
        with self._open.answering_a_frame():
            if ending is Skipped.ENDED:  # timed from its frame's end, as any frame
                started = time.perf_counter()
                ack = await self._acknowledger.reject_frame(
                    b"", RejectionCode.MALFORMED, TOO_LARGE.format(limit=self._limit),
                    condition=INTERNAL_ERROR, header_from=msh, peer=self._peer(),
                )  # fmt: skip
                await self._answer(writer, ack, started, decode_message(msh).codec)
                return True
            if ending is Skipped.TRUNCATED:
                unanswered = self.truncated_reason(reader)
            else:  # a new block began
                unanswered = STRAY_BYTES if no_start_block else ABANDONED_BLOCK
            await self._acknowledger.reject_frame(
                b"", RejectionCode.MALFORMED, unanswered + LARGER.format(limit=self._limit),
                peer=self._peer(),
            )  # fmt: skip
        return ending is not Skipped.TRUNCATED

    def truncated_reason(self, reader: HL7StreamReader) -> str:
        """Why a frame was cut short: the sweep ended it, or the peer reset or closed."""
        task = asyncio.current_task()
        cut = self._open.watch.cut(task) if task is not None else None
        return cut or (RESET if peer_gone(reader) else TRUNCATED)

    async def keep_truncated(self, partial: bytes, reader: HL7StreamReader) -> None:
        reason = self.truncated_reason(reader)
        block = await self.keep_unanswered(partial)
        if block.strip(LINE_NOISE):
            await self._acknowledger.reject_frame(
                block, RejectionCode.MALFORMED, reason, peer=self._peer()
            )

    async def keep_unanswered(self, data: bytes) -> bytes:
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

    def _peer(self) -> str | None:
        """The address of the connection being served (None: not known)."""
        return self._open.peer(asyncio.current_task())
