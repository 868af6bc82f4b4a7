"""Structured JSON logging that cannot emit PHI fields.

Every record becomes one JSON line. Extra fields whose names identify a person (names,
MRNs, birth dates, addresses, phone numbers...) are replaced by ``[redacted]`` whatever
their value, so a careless ``extra={"mrn": ...}`` cannot leak. Log messages themselves
carry only identifiers of the platform (subject ids, event ids), never patient data.

What is not ours cannot be vetted that way: a library may quote what it received (aiohttp's
server logs a request it cannot parse with its bytes: a whole HL7 message), and an
exception's text may quote data (asyncpg's DETAIL). So a library's record keeps only the
first line of its message template, its arguments only when they are numbers, and every
exception is written as its traceback's frames and types, never its text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from shared.phi_keys import is_place_key, is_street_key

REDACTED = "[redacted]"

_PHI_FIELD = re.compile(
    r"(^|_)(name|names|given|family|surname|maiden|mrn|patient|pid|hospital_id|dob|birth|"
    r"birthdate|address|street|city|zip|postcode|phone|telephone|email|ssn|nhs|insurance|"
    r"next_of_kin|nk1)(_|$)",
    re.IGNORECASE,
)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
_ALLOWED = frozenset({"service", "consumer", "event_id", "subject_id", "topic", "reason_code"})
# the platform's own loggers (named after their modules): their messages are vetted
_OWN_LOGGERS = ("services.", "shared.", "cachexia.", "bench.", "tests.", "__main__")
_MAX_LIBRARY_MESSAGE = 200


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_DIGITS = re.compile(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")  # a number glued on
_RUN_TOGETHER = re.compile(
    r"(firstname|lastname|fullname|givenname|familyname|surname|dateofbirth|birthdate|"
    r"phonenumber|streetaddress|patientname|mothersmaidenname)",
    re.IGNORECASE,
)


def is_phi_field(name: str) -> bool:
    """True for a field name that may hold a person's identity, however it is spelled, a
    number glued on or not (``phone2``, ``name1``; review 232); a place or an address line
    by its words in several languages (``birthplace``, ``wohnort``, ``adresse``,
    ``street1``: ``phi_keys``, the rule kept JSON copies use)."""
    if name in _ALLOWED:
        return False
    words = re.sub(r"[^0-9A-Za-z]+", "_", _CAMEL.sub("_", name))
    parted = _DIGITS.sub("_", words)
    if _PHI_FIELD.search(words) or _PHI_FIELD.search(parted) or _RUN_TOGETHER.search(name):
        return True
    return is_place_key(name) or is_street_key(name)  # by words, any language (``phi_keys``)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": _message(record),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            entry[key] = REDACTED if is_phi_field(key) else _plain(value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["exc"] = exception_without_text(record.exc_info[1])
        return json.dumps(entry, default=str)


def _message(record: logging.LogRecord) -> str:
    """Ours as written; a library's as its template's first line, with only numbers put in
    (a string argument or a message built from data may quote what it received)."""
    if record.name.startswith(_OWN_LOGGERS) or record.name == "root":
        return record.getMessage()
    template = str(record.msg).split("\n", 1)[0][:_MAX_LIBRARY_MESSAGE]
    args = record.args
    if isinstance(args, tuple) and args and all(_is_number(a) for a in args):
        try:
            return template % args
        except (TypeError, ValueError):
            return template
    return template


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) or value is None


def exception_without_text(exception: BaseException) -> str:
    """An exception (and its causes) as its traceback's frames and types: where it
    happened, never its text, which may quote data."""
    parts: list[str] = []
    seen: set[int] = set()
    error: BaseException | None = exception
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = "".join(traceback.format_tb(error.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{type(error).__qualname__}")
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "\n(caused by, or raised while handling)\n".join(reversed(parts))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if is_phi_field(str(k)) else _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
