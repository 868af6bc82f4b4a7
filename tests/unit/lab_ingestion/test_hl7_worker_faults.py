"""Review 232 D5: an HL7 input on which a step fails where nothing answered that failure (a
redaction on the worker thread above all) is answered, and keeps what can be kept: a copy
that could not be redacted is not kept, its input still is; any other defect is answered
AR "resend" (HTTP 503) and counted as a failure."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints import hl7_flow
from services.lab_ingestion.entrypoints.hl7_failures import INTERNAL_ERROR_TEXT
from services.lab_ingestion.entrypoints.hl7_flow import LARGE_MESSAGE_CHARS
from services.lab_ingestion.service_layer.transactions import COPY_NOT_MADE
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_hl7_flow import MESSAGE, RAW, acknowledger, run


@pytest.mark.parametrize(
    ("size", "exc"),
    [(100, RuntimeError("defect")), (LARGE_MESSAGE_CHARS + 1, RuntimeError("defect")),
     (LARGE_MESSAGE_CHARS + 1, KeyboardInterrupt())],
    ids=["small", "large", "large-KeyboardInterrupt-on-the-thread"],
)  # fmt: skip
def test_a_refused_message_whose_redaction_fails_is_kept_without_its_copy(
    monkeypatch: pytest.MonkeyPatch, size: int, exc: BaseException
) -> None:
    def failing(*_args: object, **_kwargs: object) -> str:
        raise exc  # on the worker thread for a large message (the loop's own is not caught)

    monkeypatch.setattr(hl7_flow, "redact", failing)
    submit = FakeSubmit()
    text = MESSAGE.replace("|P|2.5.1", "|X|2.5.1")
    text += "NTE|1||" + "x" * max(0, size - len(text))
    code, _ = run(acknowledger(submit).acknowledge(text.encode(), Channel.MLLP))
    assert code == "AR"
    (kept,) = submit.rejections
    assert kept.code is RejectionCode.WRONG_PROCESSING_ID
    assert (kept.redacted_payload, kept.control_id) == (COPY_NOT_MADE, None)


def test_a_step_that_answers_no_error_itself_is_answered_resend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(*_args: object, **_kwargs: object) -> tuple[str, str]:
        raise RuntimeError("defect")

    monkeypatch.setattr(hl7_flow, "hl7_answer", failing)
    registry = CollectorRegistry()
    acknowledging = acknowledger(FakeSubmit(), registry)
    code, ack, failed = run(acknowledging.acknowledge_outcome(RAW, Channel.HL7_HTTP))
    assert (code, failed) == ("AR", True)
    assert f"|{INTERNAL_ERROR_TEXT}" in ack
    frame_ack = run(acknowledging.reject_frame(RAW, RejectionCode.MALFORMED, "no start"))
    assert "MSA|AR|" in frame_ack and INTERNAL_ERROR_TEXT in frame_ack
    rejected = registry.get_sample_value(
        "lab_messages_rejected_total",
        {"channel": Channel.HL7_HTTP.value, "source": "unknown", "reason": "unknown"},
    )
    assert rejected == 1
