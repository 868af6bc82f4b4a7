"""An HTTP push's JSON body decoded (``decode_json``), strictly: decimals kept as sent, and
a body no reader can be sure of refused as unreadable (``request_body.UnreadableBody``, 400)
by its length and SHA-256: a key named twice, NaN, a number beyond any measurement's
exponent, a NUL in a string."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.lab_ingestion.entrypoints.request_body import UnreadableBody, fingerprint


class _NotJsonConstant(ValueError):
    pass


class _RepeatedKey(ValueError):
    """An object names one key twice (RFC 8259: names SHOULD be unique; readers differ in
    which value they keep, and Python's keeps the last)."""

    def __init__(self, key: str) -> None:
        super().__init__("an object names one key more than once")
        self.key = key


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


def decode_json(raw: bytes, nameable: Callable[[str], bool] = lambda _key: False) -> Any:
    """The decoded body (decimals kept exact, as sent), or ``UnreadableBody`` (400).

    An object that names a key twice, at any depth, is refused: which value the sender meant
    cannot be told (a second ``status`` or ``valueQuantity`` silently replaced the first).
    The key is named in the reason only when ``nameable`` says it is the format's own
    element name; any other key may be a person's detail."""
    try:  # a leading byte-order mark is read past (RFC 8259 8.1; review 112: a 400)
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableBody(
            400, f"body is not UTF-8 (invalid byte at offset {exc.start}); {fingerprint(raw)}"
        ) from None
    try:
        decoded = json.loads(
            text,
            parse_float=_decimal,
            parse_constant=_no_constants,
            object_pairs_hook=_object_of_unique_keys,
        )
    except json.JSONDecodeError as exc:  # its messages never quote the input
        reason = f"body is not valid JSON: line {exc.lineno} column {exc.colno} ({exc.msg})"
    except _NotJsonConstant:
        reason = "body is not valid JSON: NaN and Infinity are not JSON numbers"
    except _RepeatedKey as exc:
        shown = f"the key {exc.key!r}" if nameable(exc.key) else "a key"
        reason = (
            f"body is not usable JSON: an object names {shown} more than once (which of "
            "its values was meant cannot be told)"
        )
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


def _object_of_unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    decoded = dict(pairs)
    if len(decoded) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return decoded


def _no_constants(name: str) -> Any:
    raise _NotJsonConstant(name)
