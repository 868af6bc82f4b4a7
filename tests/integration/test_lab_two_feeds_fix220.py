"""One sample over HL7 and the lab's FHIR feed: a withdrawal after its key's result in the
same message (task 220). Patient A = MRN4711 (S-100), CRP of order ORD7 collected 20
November 08:15; HL7 = LIS^HOSP over MLLP (and ``POST /v1/hl7``), FHIR = the lab's token,
identifier FILL=ORD7.

The FHIR feed stored and withdrew (entered-in-error) its final 12 of the sample; then one
HL7 message holds, under one order and test, a final 13 and then its withdrawal (W or D).
The withdrawal was left out as a duplicate of the FHIR withdrawal (the other feed's result
already withdrawn) while F 13 was stored and published: the result the lab withdrew in the
same message stood. A withdrawal after its key's result in its message acts on that result,
as it does when the other feed holds nothing: nothing of it stands. So too after P, and
after F then C; a W whose key holds the patient's own F from an earlier message of the
batch; and the mirror, a FHIR transaction Bundle holding a final and then its
entered-in-error after the HL7 feed withdrew its copy. Across batches (the fast path, whose
plan is read again) and in one commit batch, on the careful path too."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_fhir_versions import bundle, post
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7, _reason
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    Send,
    _fhir_send,
    _hl7_send,
    _one_batch,
    _post,
    _rejections,
    _standing,
)
from tests.integration.test_lab_two_feeds_review209 import _careful

pytestmark = pytest.mark.integration

SAMPLE_AT = datetime.fromisoformat("2026-11-20T08:15:00+01:00")
STANDING_PRELIMINARIES = "SELECT count(*) FROM results WHERE status = 'P' AND cancelled_at IS NULL"
# the HL7 message's results: a final (or preliminary, or final then correction) and, last,
# a withdrawal of it under the same order and test
SHAPES = {
    "F-W": [("13", "F"), ("13", "W")],
    "F-D": [("13", "F"), ("", "D")],
    "P-W": [("13", "P"), ("13", "W")],
    "F-C-W": [("13", "F"), ("14", "C"), ("14", "W")],
}
# what the message publishes, the same whether or not the FHIR feed withdrew its 12 first:
# its results and then their withdrawal (a preliminary result is never published)
RECORDED, CANCELLED = "LabResultRecorded", "LabResultCancelled"
PUBLISHED: dict[str, list[tuple[str, float | None]]] = {
    "F-W": [(RECORDED, 13.0), (CANCELLED, None)],
    "F-D": [(RECORDED, 13.0), (CANCELLED, None)],
    "P-W": [],
    "F-C-W": [(RECORDED, 13.0), (RECORDED, 14.0), (CANCELLED, None)],
}


def _withdrawn_in_its_message(control_id: str, shape: str) -> str:
    results = [obx("1988-5", value, "mg/L", status=status) for value, status in SHAPES[shape]]
    return oru(control_id, results, order="ORD7")


async def _fhir_withdrew_12(lab: Lab) -> None:
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    assert (await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER)))[0] == 200


async def _nothing_stands(lab: Lab) -> None:
    assert await _standing(lab) == []
    assert await lab.pool.fetchval(STANDING_PRELIMINARIES) == 0
    assert await _rejections(lab) == []


async def _sample_events(lab: Lab, hl7: bool) -> list[tuple[str, float | None]]:
    """lab.results.v1's events of the sample (collected 20 November 08:15) over one feed:
    each result recorded, and each withdrawal of one of them (by ``cancelled_result_id``)."""
    mine: set[str] = set()
    found: list[tuple[str, float | None]] = []
    rows = await lab.pool.fetch(
        "SELECT event_type, convert_from(envelope, 'UTF8') AS e FROM outbox"
        " WHERE topic = $1 ORDER BY id", LAB_RESULTS,
    )  # fmt: skip
    for row in rows:
        payload = json.loads(row["e"])["payload"]
        if row["event_type"] == CANCELLED:
            if payload["cancelled_result_id"] in mine:
                found.append((CANCELLED, None))
            continue
        sample = datetime.fromisoformat(payload["collected_at"]) == SAMPLE_AT
        if sample and (payload["source"] == "LIS^HOSP") == hl7:
            mine.add(payload["result_id"])
            found.append((row["event_type"], payload["value"]))
    return found


async def _hl7_events(lab: Lab) -> list[tuple[str, float | None]]:
    return await _sample_events(lab, hl7=True)


async def _fhir_events(lab: Lab) -> list[tuple[str, float | None]]:
    return await _sample_events(lab, hl7=False)


@pytest.mark.parametrize("over_http", [False, True])
@pytest.mark.parametrize("shape", list(SHAPES))
async def test_an_hl7_withdrawal_after_its_result_in_the_message_withdraws_it(
    lab: Lab, shape: str, over_http: bool
) -> None:
    """FHIR F 12 and its entered-in-error; one HL7 message F 13 then W (D; P then W; F, C,
    W): AA, nothing of it stands, and it publishes what it does when the FHIR feed holds
    nothing (its results, then their withdrawal). Before: the W was left out as a duplicate
    of the FHIR withdrawal ("already held by another sender") and F 13 stood, published."""
    await _fhir_withdrew_12(lab)
    ack = await _send(lab, _withdrawn_in_its_message("H-1", shape), over_http=over_http)
    assert ack[1] == "AA", (ack, await _reason(lab))
    assert "another sender" not in ack[-1], ack  # nothing of it left out as the FHIR feed's
    await _nothing_stands(lab)
    assert await _hl7_events(lab) == PUBLISHED[shape]


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_the_same_message_with_nothing_over_the_other_feed(lab: Lab, shape: str) -> None:
    """The baseline the two-feed case must match: the message alone, AA, nothing stands."""
    ack = await _send(lab, _withdrawn_in_its_message("H-1", shape))
    assert ack[1] == "AA", (ack, await _reason(lab))
    await _nothing_stands(lab)
    assert await _hl7_events(lab) == PUBLISHED[shape]


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("shape", ["F-W", "P-W", "F-C-W"])
async def test_in_one_batch_an_hl7_withdrawal_after_its_result_in_the_message(
    lab: Lab, careful: bool, shape: str
) -> None:
    """The same in one commit batch: FHIR F 12, its entered-in-error, the HL7 message."""
    message = _withdrawn_in_its_message("H-1", shape)
    sends: list[Send] = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12)),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        lambda: _send(lab, message),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    assert answers[-1][1] == "AA", (answers, await _reason(lab))
    assert "another sender" not in answers[-1][-1], answers
    await _nothing_stands(lab)
    assert await _hl7_events(lab) == PUBLISHED[shape]


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_a_withdrawal_of_the_patients_own_final_of_an_earlier_message(
    lab: Lab, careful: bool
) -> None:
    """FHIR F 12, its entered-in-error, HL7 F 13, HL7 W, in one commit batch: the W
    withdraws F 13 (its key holds it), never left out as a duplicate."""
    sends = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12)),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-1", "13"), _hl7_send(lab, "H-2", "13", "W"),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    assert [a[1] for a in answers[-2:]] == ["AA", "AA"], (answers, await _reason(lab))
    assert "another sender" not in answers[-1][-1], answers
    await _nothing_stands(lab)
    assert await _hl7_events(lab) == PUBLISHED["F-W"]


async def test_a_withdrawal_of_the_patients_own_final_across_batches(lab: Lab) -> None:
    await _fhir_withdrew_12(lab)
    assert (await _hl7(lab, "H-1", "13"))[1] == "AA", await _reason(lab)
    ack = await _hl7(lab, "H-2", "13", "W")
    assert ack[1] == "AA" and "another sender" not in ack[-1], ack
    await _nothing_stands(lab)
    assert await _hl7_events(lab) == PUBLISHED["F-W"]


# --- the mirror: a FHIR transaction after the HL7 feed withdrew its copy ----------------------


@pytest.mark.parametrize("statuses", [("final",), ("preliminary",), ("final", "corrected")])
async def test_a_fhir_transaction_withdrawing_its_own_result_after_hl7_withdrew_its_copy(
    lab: Lab, statuses: tuple[str, ...]
) -> None:
    """HL7 F 12, HL7 W; a FHIR transaction: final 13 (preliminary 13; final 13 then
    corrected 14) and then entered-in-error: stored whole, nothing of it stands."""
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    assert (await _hl7(lab, "H-2", "12", "W"))[1] == "AA"
    values = [13, 14][: len(statuses)]
    entries = [
        _fhir_crp(v, s, issued=f"2026-11-20T09:0{i}:00+01:00")
        for i, (v, s) in enumerate(zip(values, statuses, strict=True))
    ]
    entries.append(_fhir_crp(values[-1], "entered-in-error", issued=LATER))
    status, answers = await post(lab, "/fhir", bundle("transaction", entries))
    assert status == 200, (status, answers, await _rejections(lab))
    assert answers[-1] == 200, answers
    await _nothing_stands(lab)
    shape = {("final",): "F-W", ("preliminary",): "P-W", ("final", "corrected"): "F-C-W"}
    assert await _fhir_events(lab) == PUBLISHED[shape[statuses]]


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_a_fhir_transaction_withdrawing_its_own_result(
    lab: Lab, careful: bool
) -> None:
    """The same in one commit batch: HL7 F 12, HL7 W, the FHIR transaction."""
    body = bundle("transaction", [
        _fhir_crp(13), _fhir_crp(13, "entered-in-error", issued=LATER),
    ])  # fmt: skip

    async def transaction() -> tuple[int, list[int]]:
        return await post(lab, "/fhir", body)

    sends = [
        *_careful(lab, careful), _hl7_send(lab, "H-1", "12"), _hl7_send(lab, "H-2", "12", "W"),
        transaction,
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    assert answers[-1][0] == 200, (answers, await _rejections(lab))
    await _nothing_stands(lab)
    assert await _fhir_events(lab) == PUBLISHED["F-W"]
