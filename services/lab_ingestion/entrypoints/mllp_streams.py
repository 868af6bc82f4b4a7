"""What the MLLP listener reads off a connection's stream, byte by byte: where a frame
ends, where a block begins, whether a frame has begun, and TCP keepalive for a connection
between frames."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
from collections.abc import Callable

from hl7.mllp import HL7StreamReader, HL7StreamWriter
from hl7.mllp.streams import CARRIAGE_RETURN, END_BLOCK, START_BLOCK

# What a sender may put between frames, read past (a frame ended <FS><CR><LF>, say).
LINE_NOISE = b"\r\n\t "
# How much of a block over the size limit is looked at for its MSH (``header_line``): an
# MSH segment is a few hundred bytes (MSH-10 at most 199 characters)
HEADER_BYTES = 8 * 1024
# ...as long as its peer is there: a peer that vanished (a rebooted host, a firewall that
# dropped an idle flow) sends no FIN, and its connection would hold a slot for good. TCP
# keepalive probes an idle connection after KEEPIDLE s, every KEEPINTVL s, and gives up
# after KEEPCNT unanswered probes: a vanished peer is found within two minutes.
KEEPALIVE_OPTIONS = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6))


def begun_frame(reader: HL7StreamReader) -> int:
    """How much of a frame begun is buffered (0: none). Line noise alone is no frame: a
    sender that ends its frames with <FS><CR><LF> leaves the LF here until its next frame,
    and an idle connection between frames may stay open for ever."""
    buffer: bytes = getattr(reader, "_buffer", b"")  # asyncio.StreamReader's buffer
    return len(buffer) if buffer.strip(LINE_NOISE) else 0


def keep_alive(writer: HL7StreamWriter) -> None:
    """Enable TCP keepalive on an accepted connection (options the platform lacks are
    left at its defaults)."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in KEEPALIVE_OPTIONS:
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def peer_address(writer: HL7StreamWriter) -> str | None:
    """The peer's IP address (None: not known): what an unknown sender may keep is counted
    by it (``unlisted_copies``)."""
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def blocks_of(data: bytes) -> list[bytes]:
    """``data`` cut before each <VT> (line noise, or a <VT> alone, is no piece): stray
    bytes before the first, each block from its <VT>; the last piece is the block to answer
    (``data`` whole, line noise and all, when it holds one <VT> after line noise)."""
    first, *blocks = data.split(START_BLOCK)
    pieces = [first, *(START_BLOCK + block for block in blocks)]
    before = [p for p in pieces[:-1] if p.strip(LINE_NOISE + START_BLOCK)]
    return [*before, pieces[-1]] if before or len(pieces) > 2 else [data]


def empty(block: bytes) -> bool:
    """Whether a block to answer (``blocks_of``'s last) holds nothing but line noise after
    its <VT>: an empty frame, which some engines send as a keep-alive. Answered, its ACK
    (MSA-2 empty) would be taken by such an engine for the answer to its next message."""
    return not block.lstrip(LINE_NOISE).removeprefix(START_BLOCK).strip(LINE_NOISE)


def frame_end(buffer: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """Where the first frame in ``buffer`` ends, looking from ``start``: the end of its
    content (at its <FS>) and where what follows begins. A frame ends at <FS><CR>, or at an
    <FS> followed directly by a <VT> (a sender that leaves out the <CR>: the <VT> begins the
    next frame, which is not waited for, nor answered in place of this one); an <FS>
    followed by anything else is a byte of the frame (as ever). None: no end yet (an <FS>
    last waits for the byte after it)."""
    at = buffer.find(END_BLOCK, start)
    while at != -1 and at + 1 < len(buffer):
        after = buffer[at + 1 : at + 2]
        if after == CARRIAGE_RETURN:
            return at, at + 2
        if after == START_BLOCK:
            return at, at + 1
        at = buffer.find(END_BLOCK, at + 1)
    return None


def _nothing() -> None:
    pass


async def read_frame(
    reader: HL7StreamReader, limit: int, came: Callable[[], None] = _nothing
) -> bytes:
    """The next frame off ``reader``, its end (``frame_end``) consumed and left out, as
    ``StreamReader.readuntil`` reads up to one separator (it takes no choice of two before
    Python 3.13): LimitOverrunError, nothing consumed, when more than ``limit`` bytes come
    before an end; IncompleteReadError, the bytes buffered consumed, at the end of the
    stream, a reset connection's too (``peer_gone`` tells it: what it sent is kept as a
    closed one's, not dropped). ``came`` is told each time data came. Reads the reader's
    buffer as ``readuntil`` and python-hl7's ``readblock`` do."""
    scanned = 0
    while True:
        buffer = reader._buffer
        end = frame_end(buffer, scanned)
        if end is not None:
            content, after = end
            if content > limit:
                raise asyncio.LimitOverrunError("frame longer than the limit", content)
            frame = bytes(buffer[:content])
            del buffer[:after]
            reader._maybe_resume_transport()
            return frame
        scanned = max(len(buffer) - 1, 0)  # an <FS> last is looked at again
        if scanned > limit:
            raise asyncio.LimitOverrunError("no frame end within the limit", scanned)
        if reader._eof or reader._exception is not None:
            partial = bytes(buffer)
            buffer.clear()
            raise asyncio.IncompleteReadError(partial, None)
        await _wait_for_data(reader, "read_frame")
        came()


async def _wait_for_data(reader: HL7StreamReader, name: str) -> None:
    """Wait for data, the end of the stream or its reset (the reader's exception is left
    set for the caller to read what was buffered before it)."""
    try:
        await reader._wait_for_data(name)
    except Exception:
        if reader._exception is None:
            raise


def peer_gone(reader: HL7StreamReader) -> bool:
    """Whether the connection was reset (or failed) rather than closed."""
    return reader._exception is not None


def frames_of(data: bytes) -> tuple[list[bytes], bytes]:
    """``data`` as ``read_frame`` reads it off a stream: its frames (their ends left out),
    and what follows the last end (a frame not ended)."""
    frames, start = [], 0
    while (end := frame_end(data, start)) is not None:
        frames.append(data[start : end[0]])
        start = end[1]
    return frames, data[start:]


class Skipped(enum.Enum):
    """How a block skipped (``skip_block``) ended."""

    ENDED = "its frame ended"
    ABANDONED = "a new block began"
    TRUNCATED = "the stream ended"


async def skip_block(reader: HL7StreamReader, skipped: Callable[[int], None]) -> Skipped:
    """Discard the block at the start of ``reader``'s buffer (one over the size limit) up
    to its end, holding no more of it than the reader buffers (the transport is paused
    beyond twice the limit): at its frame's end (``frame_end``, consumed), at a <VT> that
    begins another block (left for ``read_frame``), or at the end of the stream (or its
    reset).
    ``skipped`` is told each amount discarded, as it is (a stalled sender is found by it)."""
    vt_from = 1 if reader._buffer.startswith(START_BLOCK) else 0  # past the block's own
    while True:
        buffer = reader._buffer
        end = frame_end(buffer)
        vt = buffer.find(START_BLOCK, vt_from)
        if end is not None and (vt == -1 or end[0] < vt):
            ending, size, consumed = Skipped.ENDED, end[0], end[1]
        elif vt != -1:
            ending, size, consumed = Skipped.ABANDONED, vt, vt
        elif reader._eof or reader._exception is not None:
            ending, size = Skipped.TRUNCATED, len(buffer)
            consumed = size
        else:  # an <FS> last waits for the byte after it
            size = consumed = len(buffer) - (1 if buffer.endswith(END_BLOCK) else 0)
            ending = None
        skipped(size)
        del buffer[:consumed]
        reader._maybe_resume_transport()
        if ending is not None:
            return ending
        vt_from = 0
        await _wait_for_data(reader, "skip_block")


def header_line(head: bytes) -> bytes:
    """The first segment of a block's ``head`` (its <VT> and line noise before it left
    out): the MSH the ACK of a block over the size limit echoes. Empty unless it ends
    within ``head``: cut short, it would echo an MSH-10 cut short."""
    text = head.lstrip(LINE_NOISE + START_BLOCK)
    ends = [at for at in (text.find(b"\r"), text.find(b"\n")) if at != -1]
    return text[: min(ends)] if ends else b""
