"""Structured JSON logging that cannot emit PHI fields.

Every record becomes one JSON line. Extra fields whose names identify a person (names,
MRNs, birth dates, addresses, phone numbers...) are replaced by ``[redacted]`` whatever
their value, so a careless ``extra={"mrn": ...}`` cannot leak. Log messages themselves
carry only identifiers of the platform (subject ids, event ids), never patient data.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

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


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_RUN_TOGETHER = re.compile(
    r"(firstname|lastname|fullname|givenname|familyname|surname|dateofbirth|birthdate|"
    r"phonenumber|streetaddress|patientname|mothersmaidenname)",
    re.IGNORECASE,
)


def is_phi_field(name: str) -> bool:
    """True for a field name that may hold a person's identity, however it is spelled."""
    if name in _ALLOWED:
        return False
    words = re.sub(r"[^0-9A-Za-z]+", "_", _CAMEL.sub("_", name))
    return bool(_PHI_FIELD.search(words) or _RUN_TOGETHER.search(name))


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
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            entry[key] = REDACTED if is_phi_field(key) else _plain(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


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
