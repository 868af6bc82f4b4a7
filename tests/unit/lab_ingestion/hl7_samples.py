"""Shared builders of HL7 v2 test messages (codec, ACK and redaction tests)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import settings

FAST = settings(max_examples=200, deadline=None)
HASH = "h" * 64


def fake_hash(_: str) -> str:
    return HASH


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment with ``fields`` (1-based field number -> raw ER7 text) and blanks between."""
    last = max(fields)
    return "|".join([name, *(fields.get(i, "") for i in range(1, last + 1))])


def msh(
    app: str = "LABSYS",
    facility: str = "NORTHLAB",
    control_id: str = "CTRL0001",
    version: str = "2.5.1",
    message_type: str = "ORU^R01^ORU_R01",
    extra: dict[int, str] | None = None,
) -> str:
    """MSH-1 is the field separator itself, so MSH-n sits at list position n - 1."""
    fields = {
        3: app,
        4: facility,
        5: "LENA-CCS",
        6: "TRIAL",
        7: "20261102091500+0000",
        9: message_type,
        10: control_id,
        11: "P",
        12: version,
        **(extra or {}),
    }
    last = max(fields)
    return "MSH|^~\\&|" + "|".join(fields.get(i, "") for i in range(3, last + 1))


def join(segments: list[str], sep: str = "\r") -> str:
    return sep.join(segments) + sep


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
