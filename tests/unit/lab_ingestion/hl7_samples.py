"""Shared builders of HL7 v2 test messages (codec, ACK and redaction tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import settings

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import LabMessage, NormalisedResult, Rejected
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import PlannedResult, plan_results

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


def one_result_oru(obx3: str, value: str, obx6: str, obx7: str = "") -> str:
    """An ORU^R01 of one NM result (OBX-3, -5, -6, -7), final, for hospital number 123456."""
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|ONE-1|P|2.5.1\r"
        "PID|1||123456^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|PANEL^Panel^L|||20261120081512+0100\r"
        f"OBX|1|NM|{obx3}||{value}|{obx6}|{obx7}||||F|||20261120081512+0100\r"
    )


def planned(message: LabMessage | str) -> list[PlannedResult] | Rejected:
    """What planning makes of a message (HL7 text is parsed first), received 2026-11-20."""
    if isinstance(message, str):
        message, _ = parse_oru(message, identify=fake_hash)
    received = datetime(2026, 11, 20, 12, tzinfo=UTC)
    return plan_results(message, DEFAULT_UNIT_PARAMETERS, received)


def only_result(message: LabMessage | str) -> NormalisedResult:
    """The one result planned of a message: accepted (a range never costs the result)."""
    results = planned(message)
    assert isinstance(results, list), results
    [(_, result)] = results
    assert isinstance(result, NormalisedResult)
    return result


def described(result: list[PlannedResult] | Rejected) -> str:
    """What planning made of a message, for an assertion's message."""
    if isinstance(result, Rejected):
        return f"rejected {result.code}: {result.reason}"
    return "published " + ", ".join(f"{r.value} {r.unit}" for _, r in result if r is not None)


def assert_stored_as(obx3: str, value: str, obx6: str, stored: tuple[float, str]) -> None:
    """A message of one OBX (``one_result_oru``) is planned as one result ``stored``: its
    canonical value and unit."""
    result = planned(one_result_oru(obx3, value, obx6))
    assert isinstance(result, list), described(result)
    [(_, normalised)] = result
    assert isinstance(normalised, NormalisedResult)
    assert normalised.value == pytest.approx(stored[0])
    assert normalised.unit == stored[1]
