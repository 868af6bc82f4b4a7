"""Review 70 (mutation testing): a parser defect is logged by the error's type only.

``test_a_parser_defect_is_still_answered_and_kept`` checks the ACK and the kept reason but
not the log: logging the exception's text (which quotes the input: a hospital number, a
name) passed every test."""

from __future__ import annotations

import pytest

from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_hl7_flow import MRN, RAW, acknowledger


async def test_a_parser_defect_is_logged_by_its_type_never_its_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise KeyError(f"PID-3 {MRN} SMITH^JOHN")

    monkeypatch.setattr("services.lab_ingestion.entrypoints.hl7_flow.parse_oru", broken)
    with caplog.at_level("DEBUG"):
        code, _ = await acknowledger(FakeSubmit()).acknowledge(RAW, Channel.MLLP)
    assert code == "AR"
    (record,) = [r for r in caplog.records if "parsing an HL7 message failed" in r.getMessage()]
    assert record.__dict__["error"] == "KeyError"
    assert record.exc_info is None
    for phi in (MRN, "SMITH"):
        assert phi not in caplog.text, phi
        assert phi not in str(record.__dict__), phi
