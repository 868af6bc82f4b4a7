"""Reading and decoding the body of an HTTP push, with a specific reason when that fails.

Bodies in gzip, x-gzip (the same) or deflate are decoded here, strictly: aiohttp's own
decoding is off (``shared.web.app.HANDLER_ARGS``), as it took a truncated gzip body for a
whole one, and a message cut short was acknowledged AA with some of its results. The size
limit applies to the decoded body, and a gzip body may have at most ``MAX_GZIP_MEMBERS``
members. A body that cannot be read or decoded cannot be redacted either, so it is never
stored: the rejection keeps an empty payload, and its reason names the body's length and
SHA-256 so that the sender can tell which of its messages it was. A JSON body whose object
names one key twice is such a body too (``json_body``): which value was meant cannot be
told, and a copy of the one value decoding keeps could not be redacted of the other. A body
not received in full within ``body_seconds`` of its reading begun (a stalled or trickling
sender, which would hold its memory and its slot for ever: aiohttp's server times no body
out) is such a body too, answered 408: the reason names what came of it, by length and
SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import zlib

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from services.lab_ingestion.domain.model import RejectionCode
from shared.worker_threads import on_worker_thread


class UnreadableBody(Exception):
    """The body could not be read (413), decoded (400) or is of a media type the route does
    not take (415, ``media_types``); ``reason`` says why, specifically, and ``code`` is what
    it is kept as."""

    def __init__(
        self, status: int, reason: str, code: RejectionCode = RejectionCode.MALFORMED
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


# HTTP/1.1 (RFC 9110 8.4.1.3): x-gzip is gzip
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
DEFLATE = "deflate"
READABLE_ENCODINGS = frozenset({"", "identity", DEFLATE, *GZIP_ENCODINGS})
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
_ZLIB_WBITS = zlib.MAX_WBITS  # deflate as HTTP means it: the zlib format (RFC 1950)
_RAW_WBITS = -zlib.MAX_WBITS  # bare deflate, which some clients send as "deflate"
# senders write one member, or a few (bgzip: one per 64 KiB decoded, about 34 for 2 MiB);
# 100,000 empty ones fit in 2 MiB, and each member costs a decompressor
MAX_GZIP_MEMBERS = 64
_GZIP_FEED_BYTES = 64 * 1024  # what a member is decoded from at a time
# how long a body may take to arrive, from its reading begun: 2 MiB at 35 KB/s (a LAN, or a
# slow link, sends it in seconds); ``lab_ingestion_http_body_seconds``
BODY_SECONDS = 60.0


async def read_body(request: web.Request, body_seconds: float = BODY_SECONDS) -> bytes:
    """The body, decoded from its Content-Encoding, at most ``client_max_size`` bytes once
    decoded, received in full within ``body_seconds``; or ``UnreadableBody``. After one,
    the connection cannot be trusted to carry another request (aiohttp closes it): its
    answer should say ``Connection: close``."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in READABLE_ENCODINGS:
        shown = encoding if encoding.isascii() and encoding.isalnum() and len(encoding) < 20 else ""
        raise UnreadableBody(400, f"content encoding {shown!r} is not supported: send "
                                  "identity, gzip or deflate")  # fmt: skip
    try:
        raw = await _read_within(request, body_seconds)
    except RequestPayloadError as error:  # e.g. a corrupt gzip Content-Encoding
        raise UnreadableBody(
            400,
            f"body could not be read ({type(error).__name__}: bad transfer or content encoding)",
        ) from None
    if encoding not in GZIP_ENCODINGS and encoding != DEFLATE:
        return raw
    decode = gunzip if encoding in GZIP_ENCODINGS else inflate
    decoded = await on_worker_thread(decode, raw, request.client_max_size, encoding)
    if decoded is None:
        raise _too_large(request, encoding)
    return decoded


async def _read_within(request: web.Request, seconds: float) -> bytes:
    """The body as sent (``request.read`` as aiohttp does it, but what came is kept when
    the deadline passes, to be named): 413 past ``client_max_size`` bytes, 408 when it has
    not all come within ``seconds``."""
    limit, body = request.client_max_size, bytearray()
    try:
        async with asyncio.timeout(seconds):
            while chunk := await request.content.readany():
                body += chunk
                if len(body) > limit:  # the bytes sent, before any decoding
                    raise _too_large(request, None)
    except TimeoutError:
        declared = request.content_length
        told = f"; Content-Length {declared}" if declared is not None else ""
        raise UnreadableBody(
            408,
            f"body not received in full within {seconds:g} s (connection closed{told}): "
            f"the first {fingerprint(bytes(body))} came",
        ) from None
    return bytes(body)


def _too_large(request: web.Request, decoded_from: str | None) -> UnreadableBody:
    """413, naming the limit and what passed it: a compressed body's Content-Length may be
    far below the limit, so then the decoded body is named, and its size as sent only told."""
    limit, declared = request.client_max_size, request.content_length
    if decoded_from is None:
        told = f" (Content-Length {declared})" if declared is not None else ""
        return UnreadableBody(413, f"body is larger than the limit of {limit} bytes{told}")
    sent = f"{declared} bytes of {decoded_from}" if declared is not None else decoded_from
    return UnreadableBody(
        413, f"the decoded body is larger than the limit of {limit} bytes (sent as {sent})"
    )


def gunzip(raw: bytes, limit: int, encoding: str = "gzip") -> bytes | None:
    """A gzip body decoded, every member of it (RFC 1952), at most ``MAX_GZIP_MEMBERS``;
    None once it passes ``limit`` bytes (decoding stops there: a small body may expand a
    thousandfold), or ``UnreadableBody`` (400) when it is not gzip, ends early, is followed
    by anything or has too many members."""
    decoded = bytearray()
    offset = members = 0
    while offset < len(raw):
        members += 1
        if members > MAX_GZIP_MEMBERS:
            why = f"it has more than {MAX_GZIP_MEMBERS} gzip members"
            raise _undecodable(raw, encoding, why)
        end = _gunzip_member(raw, offset, decoded, limit, encoding)
        if end is None:
            return None
        offset = end
    return bytes(decoded)


def _gunzip_member(
    raw: bytes, start: int, decoded: bytearray, limit: int, encoding: str
) -> int | None:
    """Decodes the gzip member at ``start`` onto ``decoded``: the offset just past it, or
    None once ``decoded`` passes ``limit``. The body is fed a slice at a time, never the
    whole rest of it: zlib copies what follows a member (``unused_data``), and a body of
    100,000 empty members cost seconds of CPU."""
    member = zlib.decompressobj(_GZIP_WBITS)
    body = memoryview(raw)
    offset = start
    while not member.eof:
        if offset >= len(raw):
            raise _undecodable(raw, encoding, "its gzip data ends early")
        fed = body[offset : offset + _GZIP_FEED_BYTES]
        try:  # all of it is read unless the member ends in it or the limit is passed
            decoded += member.decompress(fed, limit + 1 - len(decoded))
        except zlib.error:
            raise _undecodable(raw, encoding, "it is not valid gzip data") from None
        if len(decoded) > limit:
            return None
        offset += len(fed)
    return offset - len(member.unused_data)


def inflate(raw: bytes, limit: int, encoding: str = DEFLATE) -> bytes | None:
    """A deflate body decoded (the zlib format, or bare deflate as some clients send it);
    None once it passes ``limit`` bytes, or ``UnreadableBody`` (400) when it is not deflate,
    ends early or is followed by anything."""
    for wbits in (_ZLIB_WBITS, _RAW_WBITS):
        stream = zlib.decompressobj(wbits)
        try:
            decoded = stream.decompress(raw, limit + 1)
        except zlib.error:
            continue
        if len(decoded) > limit:
            return None
        if not stream.eof or stream.unused_data:
            raise _undecodable(raw, encoding, "its deflate data ends early or runs on")
        return decoded
    raise _undecodable(raw, encoding, "it is not valid deflate data")


def _undecodable(raw: bytes, encoding: str, why: str) -> UnreadableBody:
    return UnreadableBody(
        400,
        f"body could not be read: its Content-Encoding is {encoding} but {why}; {fingerprint(raw)}",
    )


def fingerprint(raw: bytes) -> str:
    """What identifies a body that is not stored: its length and SHA-256."""
    return f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}"
