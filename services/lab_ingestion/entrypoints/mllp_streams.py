"""What the MLLP listener reads off a connection's stream, byte by byte: where a block
begins, whether a frame has begun, and TCP keepalive for a connection between frames."""

from __future__ import annotations

import contextlib
import socket

from hl7.mllp import HL7StreamReader, HL7StreamWriter
from hl7.mllp.streams import START_BLOCK

# What a sender may put between frames, read past (a frame ended <FS><CR><LF>, say).
LINE_NOISE = b"\r\n\t "
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


def blocks_of(data: bytes) -> list[bytes]:
    """``data`` cut before each <VT> (line noise, or a <VT> alone, is no piece): stray
    bytes before the first, each block from its <VT>; the last piece is the block to answer
    (``data`` whole, line noise and all, when it holds one <VT> after line noise)."""
    first, *blocks = data.split(START_BLOCK)
    pieces = [first, *(START_BLOCK + block for block in blocks)]
    before = [p for p in pieces[:-1] if p.strip(LINE_NOISE + START_BLOCK)]
    return [*before, pieces[-1]] if before or len(pieces) > 2 else [data]
