"""Reading and decoding the body of an HTTP push, with a specific reason when that fails.

A body that cannot be read or decoded cannot be redacted either, so it is never stored: the
rejection keeps an empty payload, and its reason names the body's length and SHA-256 so that
the sender can tell which of its messages it was.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError


class UnreadableBody(Exception):
    """The body could not be read (413) or decoded (400); ``reason`` says why, specifically."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _NotJsonConstant(ValueError):
    pass


# what aiohttp decodes; a body in another encoding would be read as if it were plain
READABLE_ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})


async def read_body(request: web.Request) -> bytes:
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in READABLE_ENCODINGS:
        shown = encoding if encoding.isascii() and encoding.isalnum() and len(encoding) < 20 else ""
        raise UnreadableBody(400, f"content encoding {shown!r} is not supported: send "
                                  "identity, gzip or deflate")  # fmt: skip
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        declared = request.content_length
        told = f" (Content-Length {declared})" if declared is not None else ""
        limit = request.client_max_size
        raise UnreadableBody(413, f"body is larger than the limit of {limit} bytes{told}") from None
    except RequestPayloadError as error:  # e.g. a corrupt gzip Content-Encoding
        raise UnreadableBody(
            400,
            f"body could not be read ({type(error).__name__}: bad transfer or content encoding)",
        ) from None


# fhir.resources turns decimals into int(Decimal(...)) when it serialises them: 1e999999999
# (11 bytes) would hold the event loop for minutes
MAX_DECIMAL_EXPONENT = 100


class _ExponentOutOfRange(ValueError):
    pass


def _decimal(text: str) -> Decimal:
    number = Decimal(text)
    if abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise _ExponentOutOfRange
    return number


def decode_json(raw: bytes) -> Any:
    """The decoded body (decimals kept exact, as sent), or ``UnreadableBody`` (400)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableBody(
            400, f"body is not UTF-8 (invalid byte at offset {exc.start}); {fingerprint(raw)}"
        ) from None
    try:
        decoded = json.loads(text, parse_float=_decimal, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:  # its messages never quote the input
        reason = f"body is not valid JSON: line {exc.lineno} column {exc.colno} ({exc.msg})"
    except _NotJsonConstant:
        reason = "body is not valid JSON: NaN and Infinity are not JSON numbers"
    except _ExponentOutOfRange:
        reason = (
            f"body is not usable JSON: a number lies beyond 1e±{MAX_DECIMAL_EXPONENT} "
            "(no measurement does)"
        )
    except ValueError:
        reason = "body is not usable JSON: a number has too many digits"
    except RecursionError:
        reason = "body is not usable JSON: it is nested too deeply"
    else:
        # only the escape can put a NUL in a string (raw control characters are invalid)
        if "\\u0000" not in text or not _holds_nul(decoded):
            return decoded
        reason = "body is not usable JSON: a string holds the NUL character (\\u0000)"
    raise UnreadableBody(400, f"{reason}; {fingerprint(raw)}")


def _holds_nul(value: Any) -> bool:
    """Whether a decoded JSON value has a NUL in a string or key (PostgreSQL's text cannot
    hold one, so the message could never be stored)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def fingerprint(raw: bytes) -> str:
    """What identifies a body that is not stored: its length and SHA-256."""
    return f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}"


def _no_constants(name: str) -> Any:
    raise _NotJsonConstant(name)
