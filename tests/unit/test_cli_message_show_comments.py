"""`cachexia message show` says which results the laboratory commented on (never what it
wrote: the text is not stored), so support can tell the lab or a clinician to read it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cachexia.messages import _print
from services.lab_ingestion.adapters.stored_messages import StoredMessage, StoredResult

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)


def test_a_commented_result_is_marked_and_the_others_are_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    noted = StoredResult(uuid.uuid4(), "platelets", "F", 45.0, "10*9/L", AT, None, None, True)
    plain = StoredResult(uuid.uuid4(), "crp", "F", 12.0, "mg/L", AT, None, None)
    message = StoredMessage(uuid.uuid4(), "LIS^HOSP", "mllp", "accepted", "S-1", AT,
                            (noted, plain))  # fmt: skip
    _print(message)
    out = capsys.readouterr().out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  ")}
    assert "laboratory comment" in lines["platelets"]
    assert "laboratory comment" not in lines["crp"]


def test_a_limit_is_shown_with_its_comparator_a_measured_value_without(
    capsys: pytest.CaptureFixture[str],
) -> None:
    limit = StoredResult(uuid.uuid4(), "neutrophils", "F", 0.1, "10*9/L", AT, None, None,
                         comparator="<")  # fmt: skip
    plain = StoredResult(uuid.uuid4(), "crp", "F", 12.0, "mg/L", AT, None, None)
    message = StoredMessage(uuid.uuid4(), "LIS^HOSP", "mllp", "accepted", "S-1", AT,
                            (limit, plain))  # fmt: skip
    _print(message)
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()
             if line.startswith("  ")}  # fmt: skip
    assert "<0.1 10*9/L" in lines["neutrophils"]
    assert " 12 mg/L" in lines["crp"] and "<" not in lines["crp"]
