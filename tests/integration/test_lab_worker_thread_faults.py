"""A failure on the worker thread that parses or redacts a large input (fault injected by
monkeypatching what runs there) is answered and keeps what can be kept (review 232 D5: a
78 KB message refused at parse whose redaction failed closed the MLLP connection with no
ACK and answered HTTP 500, nothing kept; a ``BaseException`` subclass dropped the HTTP
connection too; a ``KeyboardInterrupt`` on the thread stopped the event loop).

A message refused for its own sake is still kept and answered so; its copy, which could not
be redacted, is not kept (the row says so). A step that answers no error itself answers
"resend" (AR, HTTP 503). A client gone while its message is redacted leaves its rejection
whole, and its connection closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest

from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.entrypoints import fhir_routes, hl7_flow
from services.lab_ingestion.entrypoints.hl7_failures import INTERNAL_ERROR_TEXT
from services.lab_ingestion.service_layer.transactions import COPY_NOT_MADE
from tests.integration.lab_fixtures import frame, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

BIG_NOTE = "NTE|1||" + "Patient note " * 6000  # ~78 KB: over LARGE_MESSAGE_CHARS (64 KiB)


def _refused_big(control_id: str) -> str:
    """Refused at parse (MSH-11 'X' is not this system's): kept as a rejection."""
    message = oru(control_id, [obx("1988-5", "42", "mg/L")])
    return message.replace("|P|2.5.1", "|X|2.5.1") + BIG_NOTE + "\r"


def _big(control_id: str) -> str:
    return oru(control_id, [obx("1988-5", "42", "mg/L")]) + BIG_NOTE + "\r"


class Boom(BaseException):
    """A BaseException subclass that is no Exception (as GeneratorExit is)."""


def _raising(exc: BaseException) -> Callable[..., str]:
    def raising(*_args: object, **_kwargs: object) -> str:
        raise exc

    return raising


FAULTS = [RuntimeError("boom"), MemoryError(), RecursionError(), StopIteration(), Boom(),
          KeyboardInterrupt(), SystemExit(3)]  # fmt: skip
FAULT_IDS = [type(fault).__name__ for fault in FAULTS]


async def _mllp_answer(lab: Lab, message: str) -> str:
    client = await lab.mllp()
    try:
        return await asyncio.wait_for(client.exchange(message), 20)
    finally:
        await client.close()


async def _post_hl7(lab: Lab, message: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/hl7", data=message, headers=headers) as answer,
    ):
        return answer.status, await answer.text()


async def _still_serving(lab: Lab) -> None:
    """The event loop still answers: a small valid message is stored."""
    answer = await _mllp_answer(lab, oru("WT-ALIVE", [obx("1988-5", "12", "mg/L")]))
    assert msa(answer)[1] == "AA", answer


@pytest.mark.parametrize("exc", FAULTS, ids=FAULT_IDS)
async def test_a_failed_redaction_of_a_large_refused_message_is_answered_and_kept(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    monkeypatch.setattr(hl7_flow, "redact", _raising(exc))
    answer = await _mllp_answer(lab, _refused_big("WT-1"))
    assert msa(answer)[1] == "AR", answer  # refused for its processing id, as ever
    (row,) = await lab.pool.fetch("SELECT reason_code, payload FROM rejections")
    assert row["reason_code"] == "unsupported-processing-id"
    assert row["payload"] == COPY_NOT_MADE  # nothing unredacted is kept
    monkeypatch.undo()
    await _still_serving(lab)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), Boom(), KeyboardInterrupt()],
                         ids=["RuntimeError", "Boom", "KeyboardInterrupt"])  # fmt: skip
async def test_a_failed_redaction_of_a_large_refused_message_over_http(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    monkeypatch.setattr(hl7_flow, "redact", _raising(exc))
    status, text = await _post_hl7(lab, _refused_big("WT-2"))
    assert status == 400, (status, text[:300])  # was 500, or the connection dropped
    assert msa(text)[1] == "AR"
    (row,) = await lab.pool.fetch("SELECT reason_code, payload FROM rejections")
    assert (row["reason_code"], row["payload"]) == ("unsupported-processing-id", COPY_NOT_MADE)


@pytest.mark.parametrize("exc", [Boom(), KeyboardInterrupt(), SystemExit(3)],
                         ids=["Boom", "KeyboardInterrupt", "SystemExit"])  # fmt: skip
async def test_a_base_exception_parsing_a_large_message_is_answered_and_kept(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    monkeypatch.setattr(hl7_flow, "parse_oru", _raising(exc))
    answer = await _mllp_answer(lab, _big("WT-3"))
    assert msa(answer)[1] == "AR", answer  # a parser defect: kept, as one on the loop is
    (row,) = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    assert row["reason_code"] == "malformed-message"
    assert row["reason"] == f"unparseable HL7: {type(exc).__name__}"
    monkeypatch.undo()
    await _still_serving(lab)


async def test_a_step_that_answers_no_error_itself_is_answered_resend(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hl7_flow, "hl7_answer", _raising(RuntimeError("defect")))
    answer = await _mllp_answer(lab, _big("WT-4"))
    assert msa(answer)[1:4] == ["AR", "WT-4", INTERNAL_ERROR_TEXT], answer
    status, text = await _post_hl7(lab, _big("WT-5"))
    assert status == 503, (status, text[:300])
    assert msa(text)[1] == "AR"


async def test_a_fhir_parse_failing_on_the_worker_thread_is_answered_503(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fhir_routes, "parse_observation", _raising(Boom()))
    status, body = await lab.post_fhir("/fhir/Observation", {"resourceType": "Observation"})
    assert status == 503, body  # the connection was dropped
    assert body["resourceType"] == "OperationOutcome"


async def test_a_client_gone_while_its_message_is_redacted_leaves_a_whole_rejection(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = redact

    def slow(*args: object, **kwargs: object) -> str:  # on the worker thread
        time.sleep(1.5)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hl7_flow, "redact", slow)
    client = await lab.mllp()
    await client.send(frame(_refused_big("WT-6")))
    await asyncio.sleep(0.3)  # being redacted
    await client.close()
    rows: list[object] = []
    for _ in range(100):
        rows = await lab.pool.fetch("SELECT reason_code, payload FROM rejections")
        if rows and await lab.metric("lab_mllp_open_connections") == 0:
            break
        await asyncio.sleep(0.1)
    (row,) = rows
    assert row["reason_code"] == "unsupported-processing-id"  # type: ignore[index]
    assert row["payload"].startswith("MSH|") and "Patient note" in row["payload"]  # type: ignore[index]
    assert await lab.metric("lab_mllp_open_connections") == 0
    monkeypatch.undo()
    await _still_serving(lab)
