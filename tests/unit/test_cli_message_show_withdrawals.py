"""`cachexia message show` says what a message's cancellations withdrew, and plainly that one
withdrew nothing (review 156: a D that withdrew a CRP and an X under an order number that
never held a result both read "results: 0"); a withdrawn result names the message that
withdrew it. Never a patient's identifier: result and message ids are the rows' own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cachexia.messages import _print
from services.lab_ingestion.adapters.stored_messages import (
    StoredMessage,
    StoredResult,
    WithdrawnResult,
)

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)


def shown(
    capsys: pytest.CaptureFixture[str],
    *,
    cancellations: int | None,
    withdrew: tuple[WithdrawnResult, ...] = (),
    results: tuple[StoredResult, ...] = (),
) -> str:
    message = StoredMessage(uuid.uuid4(), "LIS^HOSP", "mllp", "accepted", "S-1", AT, results,
                            cancellations, withdrew)  # fmt: skip
    _print(message)
    return capsys.readouterr().out


def withdrawn(analyte: str = "crp", status: str = "F", key: str = "#k1") -> WithdrawnResult:
    return WithdrawnResult(uuid.uuid4(), analyte, status, uuid.uuid4(), key)


def test_what_a_cancellation_withdrew_is_listed_with_the_message_that_stored_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, correction = withdrawn(), withdrawn(status="C")
    out = shown(capsys, cancellations=1, withdrew=(first, correction))
    assert "withdrew: 2 result(s)" in out
    for version in (first, correction):
        (line,) = [line for line in out.splitlines() if str(version.result_id) in line]
        assert "crp" in line and line.endswith(f"stored by message {version.message_id}")
    assert "nothing" not in out and "#k1" not in out  # the stored key is never shown


def test_a_cancellation_that_withdrew_nothing_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = shown(capsys, cancellations=1)
    assert "results:  0" in out
    assert "withdrew: nothing (its 1 cancellation(s)" in out


def test_a_cancellation_of_several_that_found_nothing_is_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = shown(capsys, cancellations=2, withdrew=(withdrawn(),))
    assert "withdrew: 1 result(s)" in out
    assert "1 of its 2 cancellation(s) withdrew nothing" in out


@pytest.mark.parametrize("cancellations", [0, None])
def test_a_message_without_cancellations_or_stored_before_they_were_counted_says_nothing(
    capsys: pytest.CaptureFixture[str], cancellations: int | None
) -> None:
    crp = StoredResult(uuid.uuid4(), "crp", "F", 12.0, "mg/L", AT, None, None)
    assert "withdr" not in shown(capsys, cancellations=cancellations, results=(crp,))


def test_a_withdrawn_result_names_the_message_that_withdrew_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    by = uuid.uuid4()
    named = StoredResult(uuid.uuid4(), "crp", "F", 12.0, "mg/L", AT, None, AT, cancelled_by=by)
    unknown = StoredResult(uuid.uuid4(), "albumin", "F", 30.0, "g/L", AT, None, AT)
    out = shown(capsys, cancellations=0, results=(named, unknown))
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["crp"].endswith(f"withdrawn 2026-11-20 07:15:00Z by message {by}")
    assert "withdrawn 2026-11-20 07:15:00Z (by no message on record)" in lines["albumin"]
