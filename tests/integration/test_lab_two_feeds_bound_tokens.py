"""The cross-feed copy rule follows a FHIR token's binding (fixer 212; README's known limit:
"a laboratory's FHIR result is compared with every HL7 sender's").

A FHIR push is made with a lab token; a token bound to one HL7 sender (``token create
--sender LAB1^F1``) is that laboratory's FHIR feed. Its results are compared only with
LAB1^F1's HL7 results, and an HL7 sender's results only with FHIR results of tokens bound to
it, or to no HL7 sender (an unbound token keeps the rule of comparing with every HL7
sender). So LAB2^F2's CRP of its own order ORD1, of the sample LAB1's FHIR feed reported
under ORD1, is a result of its own: stored over MLLP (careful and fast path alike), never
left out as a copy nor refused; LAB1's own HL7 copy is still left out (same value) or
refused (another value). The binding is the one the token had when the result was stored
(``messages.feed_of``, migration 0039)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token, revoke_tokens
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _reason

pytestmark = pytest.mark.integration

STANDING = """
SELECT r.source, r.value FROM results r
 WHERE r.cancelled_at IS NULL AND r.status IN ('F', 'C') AND r.analyte = 'crp'
 ORDER BY r.recorded_at
"""


async def _standing(lab: Lab) -> list[tuple[str, float]]:
    return [(r["source"], r["value"]) for r in await lab.pool.fetch(STANDING)]


async def _labs(lab: Lab, *, bound: bool = True, name: str = "lab1") -> str:
    """LAB1^F1 and LAB2^F2 on the allow-list; a lab token named ``name`` bound to LAB1^F1
    (``bound``; else bound to no sender): the token."""
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LAB1", "F1")
        await add_source(conn, "LAB2", "F2")
        token = await create_token(conn, name, Role.LAB, ["LAB1^F1"] if bound else None)
    await asyncio.sleep(2.5)  # the allow-list is re-read within SOURCES_TTL_SECONDS
    return token


async def _fhir(lab: Lab, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/fhir/Observation", json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


async def _hl7(
    lab: Lab, sender: str, control_id: str, value: str, order: str = "ORD1",
    observed: str = "20261120081500+0100",
) -> list[str]:  # fmt: skip
    """``sender``'s (APP^FAC) CRP of ``order`` over MLLP: its MSA fields."""
    application, _, facility = sender.partition("^")
    message = oru(
        control_id, [obx("1988-5", value, "mg/L", observed=observed)],
        application=application, facility=facility, order=order,
    )  # fmt: skip
    client = await lab.mllp()
    try:
        return msa(await client.exchange(message))
    finally:
        await client.close()


@pytest.mark.parametrize("fast", [False, True])
async def test_another_hl7_labs_result_under_a_coinciding_order_is_stored(
    lab: Lab, fast: bool
) -> None:
    """LAB1's FHIR feed (token bound to LAB1^F1) final 12 under ORD1; LAB2^F2's HL7 final 40
    of its own ORD1, same patient and collection time: stored (``fast``: the patient known
    from an earlier LAB2 message, so the write's own check decides)."""
    token = await _labs(lab)
    if fast:
        early = await _hl7(
            lab, "LAB2^F2", "L2-0", "3", order="ORD0", observed="20261119081500+0100"
        )
        assert early[1] == "AA", early
    status, outcome = await _fhir(lab, token, _fhir_crp(12, order="ORD1"))
    assert status == 201, outcome
    ack = await _hl7(lab, "LAB2^F2", "L2-1", "40")
    assert ack[1] == "AA" and "another sender" not in ack[-1], (ack, await _reason(lab))
    assert [s for s in await _standing(lab) if s[1] != 3.0] == [
        ("lab1^FHIR", 12.0), ("LAB2^F2", 40.0)
    ]  # fmt: skip
    # and the other way: LAB2's HL7 result first, LAB1's FHIR feed's of its own ORD2 after
    assert (await _hl7(lab, "LAB2^F2", "L2-2", "41", order="ORD2"))[1] == "AA"
    status, outcome = await _fhir(lab, token, _fhir_crp(13, order="ORD2"))
    assert status == 201, outcome
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0


@pytest.mark.parametrize("fast", [False, True])
async def test_the_bound_labs_own_hl7_copy_keeps_the_copy_rule(lab: Lab, fast: bool) -> None:
    """LAB1's FHIR final 12 under ORD1; LAB1^F1's HL7 final of ORD1: 12 is a duplicate, left
    out (AA), 40 refused naming the FHIR sender (AE)."""
    token = await _labs(lab)
    if fast:
        early = await _hl7(
            lab, "LAB1^F1", "L1-0", "3", order="ORD0", observed="20261119081500+0100"
        )
        assert early[1] == "AA", early
    assert (await _fhir(lab, token, _fhir_crp(12, order="ORD1")))[0] == 201
    same = await _hl7(lab, "LAB1^F1", "L1-1", "12")
    assert same[1] == "AA" and "another sender" in same[-1], (same, await _reason(lab))
    other = await _hl7(lab, "LAB1^F1", "L1-2", "40")
    assert other[1] == "AE" and "'lab1^FHIR'" in await _reason(lab), (other, await _reason(lab))
    assert [s for s in await _standing(lab) if s[1] != 3.0] == [("lab1^FHIR", 12.0)]


async def test_a_bound_tokens_fhir_copy_of_its_own_labs_hl7_result_keeps_the_copy_rule(
    lab: Lab,
) -> None:
    """LAB1^F1's HL7 final 12 first: the FHIR feed's 12 is left out (200), its 40 refused."""
    token = await _labs(lab)
    assert (await _hl7(lab, "LAB1^F1", "L1-1", "12"))[1] == "AA"
    status, outcome = await _fhir(lab, token, _fhir_crp(12, order="ORD1"))
    assert status == 200, outcome
    status, outcome = await _fhir(lab, token, _fhir_crp(40, order="ORD1"))
    assert status == 422 and "'LAB1^F1'" in str(outcome), outcome
    assert await _standing(lab) == [("LAB1^F1", 12.0)]


@pytest.mark.parametrize("fast", [False, True])
async def test_an_unbound_tokens_fhir_is_compared_with_every_hl7_sender(
    lab: Lab, fast: bool
) -> None:
    """An unbound token's FHIR final 12 under ORD1: LAB2^F2's HL7 final 12 of ORD1 is left
    out as its duplicate, 40 refused (today's rule: which HL7 laboratory's it is cannot be
    told)."""
    token = await _labs(lab, bound=False)
    if fast:
        early = await _hl7(
            lab, "LAB2^F2", "L2-0", "3", order="ORD0", observed="20261119081500+0100"
        )
        assert early[1] == "AA", early
    assert (await _fhir(lab, token, _fhir_crp(12, order="ORD1")))[0] == 201
    same = await _hl7(lab, "LAB2^F2", "L2-1", "12")
    assert same[1] == "AA" and "another sender" in same[-1], (same, await _reason(lab))
    other = await _hl7(lab, "LAB2^F2", "L2-2", "40")
    assert other[1] == "AE" and "'lab1^FHIR'" in await _reason(lab), (other, await _reason(lab))


async def test_a_result_keeps_the_binding_its_token_had_when_it_was_stored(lab: Lab) -> None:
    """The token bound to LAB1^F1 stores FHIR 12 under ORD1, is revoked, and a new token of
    the same name is bound to LAB2^F2 (kept under the same ``lab1^FHIR``): LAB2's HL7 40 of
    ORD1 is still stored beside LAB1's FHIR result; the new token's FHIR 41 of ORD3 is
    LAB2's feed, a duplicate of LAB2's HL7 41 of ORD3 (left out, 200)."""
    token = await _labs(lab)
    assert (await _fhir(lab, token, _fhir_crp(12, order="ORD1")))[0] == 201
    async with lab.pool.acquire() as conn:
        await revoke_tokens(conn, name="lab1")
        rebound = await create_token(conn, "lab1", Role.LAB, ["LAB2^F2"])
    ack = await _hl7(lab, "LAB2^F2", "L2-1", "40")
    assert ack[1] == "AA" and "another sender" not in ack[-1], (ack, await _reason(lab))
    assert (await _hl7(lab, "LAB2^F2", "L2-3", "41", order="ORD3"))[1] == "AA"
    status, outcome = await _fhir(lab, rebound, _fhir_crp(41, order="ORD3"))
    assert status == 200 and "another sender" in str(outcome), (status, outcome)
    assert await _standing(lab) == [("lab1^FHIR", 12.0), ("LAB2^F2", 40.0), ("LAB2^F2", 41.0)]
