"""One sample over HL7 and the lab's FHIR feed (reviews 181, 188, 192): what review 202 found
the copy rule letting through. Patient MRN1, CRP of order ORD7 collected 20 November 08:15;
HL7 = LIS^HOSP over MLLP (and ``POST /v1/hl7``), FHIR = the lab's token, identifier FILL=ORD7.

1. a withdrawal (W, X; FHIR entered-in-error) over a feed whose key holds only a
   preliminary result, while the other feed's final stands, withdrew the preliminary alone
   and was answered as if it had worked: the other feed's final stayed, no
   LabResultCancelled. It is refused naming the holder, as under an empty key;
2. the other feed's late copy of a withdrawn result was stored and published again. A final
   saying what the other feed's withdrawn result of the sample said is refused
   ``ambiguous-version`` (kept), as a late copy over one feed is; another value is a new
   result. On the fast path the write's check (migration 0038) sends it to the careful path;
3. a correction under a key holding only a preliminary was told "send the final result
   first"; it is told to go through the holder (or, saying what the holder says, left out);
4. the same in one commit batch as across batches: a result withdrawn earlier in the batch
   is withdrawn, never a standing result a later copy is a duplicate of."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from tests.integration.lab_batches import committer_held, queued
from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_fhir_cancelled_never_resulted import _diagnostics
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7, _reason
from tests.integration.test_lab_two_feeds_review192 import _send

pytestmark = pytest.mark.integration

STANDING = """
SELECT r.source, r.value FROM results r
 WHERE r.cancelled_at IS NULL AND r.status IN ('F', 'C')
   AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id
                   AND s.cancelled_at IS NULL AND s.status IN ('F', 'C'))
   AND r.collected_at = '2026-11-20T08:15:00+01:00'
 ORDER BY r.recorded_at
"""
WITHDRAWN = "SELECT count(*) FROM results WHERE cancelled_at IS NOT NULL"
LATER = "2026-11-20T10:00:00+01:00"  # a withdrawal's or correction's FHIR issued time
FAST_PATH_REPLANS = "lab_batches_replanned_total"
Send = Callable[[], Awaitable[Any]]


async def _standing(lab: Lab) -> list[tuple[str, float]]:
    """The sample's standing results (another order's, used to fill a batch, left out)."""
    return [(r["source"], r["value"]) for r in await lab.pool.fetch(STANDING)]


async def _events(lab: Lab) -> list[tuple[str, str | None, float | None]]:
    """lab.results.v1's events as written (the outbox): type, sender, value."""
    rows = await lab.pool.fetch(
        "SELECT event_type, convert_from(envelope, 'UTF8') AS e FROM outbox"
        " WHERE topic = $1 ORDER BY id", LAB_RESULTS,
    )  # fmt: skip
    found = []
    for row in rows:
        payload = json.loads(row["e"])["payload"]
        found.append((row["event_type"], payload.get("source"), payload.get("value")))
    return found


async def _rejections(lab: Lab) -> list[str]:
    rows = await lab.pool.fetch("SELECT reason_code FROM rejections ORDER BY received_at")
    published = await lab.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1", LAB_REJECTED
    )
    assert published == len(rows)  # each kept and published
    return [r["reason_code"] for r in rows]


async def _fhir_sender(lab: Lab) -> str:
    return str(
        await lab.pool.fetchval("SELECT source FROM messages WHERE channel = 'fhir' LIMIT 1")
    )


async def _post(lab: Lab, body: dict[str, Any]) -> tuple[int, str]:
    status, outcome = await lab.post_fhir("/fhir/Observation", body)
    return status, _diagnostics(outcome) if "issue" in outcome else ""


# --- 1 and 3: a key holding only a preliminary ---------------------------------------------


@pytest.mark.parametrize(("status", "value"), [("W", "12"), ("X", "")])
async def test_an_hl7_withdrawal_over_a_preliminary_is_refused_while_the_fhir_final_stands(
    lab: Lab, status: str, value: str
) -> None:
    """HL7 P 12, FHIR F 12, HL7 F 12 (left out), HL7 W or X: refused naming the FHIR
    sender, nothing withdrawn; withdrawn through FHIR, the HL7 withdrawal then withdraws
    its preliminary."""
    assert (await _hl7(lab, "H-1", "12", "P"))[1] == "AA"
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    copy = await _hl7(lab, "H-2", "12")
    assert copy[1] == "AA" and "another sender" in copy[-1], copy
    refused = await _hl7(lab, "H-3", value, status)
    said = await _reason(lab)
    assert refused[1] == "AE" and repr(fhir) in said, (refused, said)
    assert "send the final result first" not in said, said
    assert await _rejections(lab) == ["unknown-corrected-result"]
    assert await _standing(lab) == [(fhir, 12.0)]
    assert (
        await lab.pool.fetchval("SELECT count(*) FROM results WHERE cancelled_at IS NOT NULL") == 0
    )
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded"]
    # the lab withdraws through the holder; then its HL7 withdrawal withdraws the preliminary
    assert (await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER)))[0] == 200
    assert (await _hl7(lab, "H-4", value, status))[1] == "AA", await _reason(lab)
    assert await _standing(lab) == []
    assert await lab.pool.fetchval(WITHDRAWN.replace("NOT NULL", "NULL")) == 0


async def test_a_fhir_withdrawal_over_a_preliminary_is_refused_while_the_hl7_final_stands(
    lab: Lab,
) -> None:
    """FHIR preliminary 12, HL7 F 12, FHIR final 12 (left out), FHIR entered-in-error: 422
    naming LIS^HOSP; HL7's 12 stands, nothing withdrawn."""
    assert (await _post(lab, _fhir_crp(12, "preliminary")))[0] == 201
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    assert (await _post(lab, _fhir_crp(12)))[0] == 200
    status, said = await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER))
    assert status == 422 and "unknown-corrected-result" in said and "'LIS^HOSP'" in said, said
    assert "send the final result first" not in said, said
    assert await _standing(lab) == [("LIS^HOSP", 12.0)]
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded"]


async def test_a_correction_over_a_preliminary_goes_through_the_holder(lab: Lab) -> None:
    """HL7 P 12, FHIR F 12: HL7 C 15 is told to go through the FHIR sender, never "send the
    final result first"; HL7 C 12 (what the FHIR result says) is a duplicate. The mirror:
    FHIR preliminary, HL7 F 12, FHIR corrected 15: 422 naming LIS^HOSP."""
    assert (await _hl7(lab, "H-1", "12", "P"))[1] == "AA"
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    refused = await _hl7(lab, "H-2", "15", "C")
    said = await _reason(lab)
    assert refused[1] == "AE" and repr(fhir) in said, (refused, said)
    assert "send the final result first" not in said, said
    same = await _hl7(lab, "H-3", "12", "C")
    assert same[1] == "AA" and "another sender" in same[-1], (same, await _reason(lab))
    assert await _standing(lab) == [(fhir, 12.0)]
    ord8 = {"order": "ORD8", "effective": "2026-11-21T08:15:00+01:00",
            "issued": "2026-11-21T09:00:00+01:00"}  # fmt: skip
    assert (await _post(lab, _fhir_crp(12, "preliminary", **ord8)))[0] == 201
    ack = await _hl7(lab, "H-4", "12", order="ORD8", observed="20261121081500+0100")
    assert ack[1] == "AA", await _reason(lab)
    next_day = ord8 | {"issued": "2026-11-21T10:00:00+01:00"}
    status, said = await _post(lab, _fhir_crp(15, "corrected", **next_day))
    assert status == 422 and "unknown-corrected-result" in said and "'LIS^HOSP'" in said, said
    assert "send the final result first" not in said, said


# --- 2: a withdrawn result stays withdrawn across feeds ------------------------------------


async def test_a_fhir_copy_of_a_result_withdrawn_over_hl7_is_refused(lab: Lab) -> None:
    """HL7 F 12, HL7 W; the FHIR final 12 (of an order number: read first, on the careful
    path) is refused ambiguous-version naming LIS^HOSP, nothing published; a FHIR final 13
    is a new result, as over one feed."""
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    assert (await _hl7(lab, "H-2", "12", "W"))[1] == "AA"
    status, said = await _post(lab, _fhir_crp(12))
    assert status == 422 and "ambiguous-version" in said and "'LIS^HOSP'" in said, said
    assert "withdrawn" in said, said
    assert await _standing(lab) == []
    assert await _rejections(lab) == ["ambiguous-version"]
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded", "LabResultCancelled"]
    assert (await _post(lab, _fhir_crp(13)))[0] == 201
    assert await _standing(lab) == [(await _fhir_sender(lab), 13.0)]


@pytest.mark.parametrize("over_http", [False, True])
async def test_an_hl7_copy_of_a_result_withdrawn_over_fhir_is_refused(
    lab: Lab, over_http: bool
) -> None:
    """FHIR final 12, entered-in-error; the HL7 final 12 (MLLP, POST /v1/hl7; the patient
    known: the fast path, whose write finds the withdrawn copy and has the batch read) is
    refused AE naming the FHIR sender; HL7 F 13 is a new result."""
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    assert (await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER)))[0] == 200
    fhir = await _fhir_sender(lab)
    copy = oru("H-1", [obx("1988-5", "12", "mg/L", observed="20261120081500+0100")], order="ORD7")
    replans = await lab.metric(FAST_PATH_REPLANS)
    refused = await _send(lab, copy, over_http=over_http)
    assert refused[1] == "AE" and repr(fhir) in await _reason(lab), refused
    assert "withdrawn" in await _reason(lab)
    assert await lab.metric(FAST_PATH_REPLANS) == replans + 1
    assert await _rejections(lab) == ["ambiguous-version"]
    assert await _standing(lab) == []
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded", "LabResultCancelled"]
    other = oru("H-2", [obx("1988-5", "13", "mg/L", observed="20261120081500+0100")], order="ORD7")
    assert (await _send(lab, other, over_http=over_http))[1] == "AA"
    assert await _standing(lab) == [("LIS^HOSP", 13.0)]


# --- 4: in one commit batch, and on the careful path ---------------------------------------


async def _one_batch(lab: Lab, sends: list[Send], tag: str = "") -> list[Any]:
    """``sends`` planned in one commit batch, in their order: a correction of another order
    (ORDQ + ``tag``) waits on the chain lock, holding the committer, while they queue."""
    ordq = {"order": f"ORDQ{tag}", "observed": "20261118081500+0100"}
    assert (await _hl7(lab, f"Q-0{tag}", "1", **ordq))[1] == "AA"
    async with committer_held(lab, lambda: _hl7(lab, f"Q-1{tag}", "2", "C", **ordq)) as held:
        queue = [await queued(lab, send) for send in sends]
    assert (await held)[1] == "AA"
    return [await answer for answer in queue]


def _hl7_send(lab: Lab, *args: str) -> Send:
    return lambda: _hl7(lab, *args)


def _fhir_send(lab: Lab, body: dict[str, Any]) -> Send:
    return lambda: _post(lab, body)


async def test_in_one_batch_a_copy_of_a_result_withdrawn_before_it_is_refused(lab: Lab) -> None:
    """HL7 F 12, HL7 W, then FHIR final 12 in one batch: refused ambiguous-version as in a
    later batch (before: 200 "duplicate" of what nothing stood as), nothing standing."""
    answers = await _one_batch(lab, [
        _hl7_send(lab, "H-1", "12"), _hl7_send(lab, "H-2", "12", "W"),
        _fhir_send(lab, _fhir_crp(12)),
    ])  # fmt: skip
    assert [a[1] for a in answers[:2]] == ["AA", "AA"], answers
    status, said = answers[2]
    assert status == 422 and "ambiguous-version" in said and "'LIS^HOSP'" in said, answers
    assert await _standing(lab) == []
    assert await _rejections(lab) == ["ambiguous-version"]


async def test_in_one_batch_a_withdrawal_of_the_chain_withdrawn_over_hl7_is_a_duplicate(
    lab: Lab,
) -> None:
    """HL7 F 12, HL7 W, then the FHIR feed's entered-in-error in one batch: a duplicate (200,
    nothing stored), as in a later batch (review 192), never refused."""
    answers = await _one_batch(lab, [
        _hl7_send(lab, "H-1", "12"), _hl7_send(lab, "H-2", "12", "W"),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
    ])  # fmt: skip
    status, said = answers[2]
    assert status == 200 and "another sender" in said, answers
    assert await _standing(lab) == []
    assert await _rejections(lab) == []


async def test_on_the_careful_path_a_copy_of_a_result_the_batch_withdrew_is_refused(
    lab: Lab,
) -> None:
    """FHIR final 12 stored; one batch (a correction of another order in it: the careful
    path) holds its entered-in-error and the HL7 final 12: refused AE, as in a later batch
    (before: left out as a duplicate of the FHIR result the batch had withdrawn); and, of
    order ORD8, HL7 F 7 stored, HL7 W: a FHIR final 7 in such a batch is refused too."""
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    answers = await _one_batch(lab, [
        _hl7_send(lab, "Q-2", "3", "C", "ORDQ", "20261118081500+0100"),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-1", "12"),
    ])  # fmt: skip
    assert answers[0][1] == "AA" and answers[1][0] == 200, answers
    assert answers[2][1] == "AE" and repr(fhir) in await _reason(lab), answers
    ord8 = {"order": "ORD8", "observed": "20261121081500+0100"}
    assert (await _hl7(lab, "H-2", "7", **ord8))[1] == "AA"
    assert (await _hl7(lab, "H-3", "7", "W", **ord8))[1] == "AA"
    later = {"order": "ORD8", "effective": "2026-11-21T08:15:00+01:00",
             "issued": "2026-11-21T09:00:00+01:00"}  # fmt: skip
    answers = await _one_batch(lab, [
        _hl7_send(lab, "Q-3", "4", "C", "ORDQb", "20261118081500+0100"),
        _fhir_send(lab, _fhir_crp(7, **later)),
    ], tag="b")  # fmt: skip
    status, said = answers[1]
    assert status == 422 and "ambiguous-version" in said and "'LIS^HOSP'" in said, answers
    assert await _rejections(lab) == ["ambiguous-version", "ambiguous-version"]
    ord7_and_ord8 = f"{WITHDRAWN.replace('NOT NULL', 'NULL')} AND collected_at > '2026-11-20'"
    assert await lab.pool.fetchval(ord7_and_ord8) == 0  # ORDQ's, of the 18th, stand


# --- review 209: a withdrawn row under the key turned the copy rule off ----------------------


@pytest.mark.parametrize(("resent", "answer"), [("40", "AE"), ("12", "AA")])
async def test_a_key_whose_preliminary_was_withdrawn_still_finds_the_other_feeds_final(
    lab: Lab, resent: str, answer: str
) -> None:
    """Review 209: HL7 P 12 withdrawn by X, then FHIR F 12 stored, then HL7 F 40: stored
    beside the FHIR final (two standing finals of one sample, both published), because a
    withdrawn row under the HL7 key, anyone's, skipped the check across feeds. F 40 is
    refused naming the FHIR sender; F 12 is the FHIR final's duplicate, left out."""
    assert (await _hl7(lab, "W9-1", "12", "P"))[1] == "AA"
    assert (await _hl7(lab, "W9-2", "", "X"))[1] == "AA"
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    sent = await _hl7(lab, "W9-3", resent)
    assert sent[1] == answer, (sent, await _reason(lab))
    if answer == "AE":
        assert repr(fhir) in await _reason(lab)
    else:
        assert "another sender" in sent[-1], sent
    assert await _standing(lab) == [(fhir, 12.0)]
