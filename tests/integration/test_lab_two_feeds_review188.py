"""One sample over HL7 and the lab's FHIR feed (review 181, fixer 184): what review 188 found
the copy rule refusing wrongly, or letting through.

- rows stored before migration 0031 (identifier parts not known) share nothing: another
  lab's result of another order at the same time is no copy of it, and an HL7 ``X`` finding
  nothing is never sent to another sender's result of another sample;
- a FHIR key made of the collection time gives no identifier, and two FHIR senders' results
  are never copies of each other (their identifier systems are their namespaces);
- a final copy saying what the held result says is left out as a duplicate, the rest of its
  message stored; one saying something else is refused with its message;
- a key holding only a preliminary result is checked too: no two published finals of one
  sample from two senders."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_fhir_cancelled_never_resulted import _observation
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7, _reason

pytestmark = pytest.mark.integration

STANDING = """
SELECT r.source, r.analyte, r.value, r.status FROM results r
 WHERE r.cancelled_at IS NULL AND r.status IN ('F', 'C')
   AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id
                   AND s.cancelled_at IS NULL AND s.status IN ('F', 'C'))
 ORDER BY r.recorded_at
"""


async def _standing(lab: Lab) -> list[tuple[str, float]]:
    return [(r["analyte"], r["value"]) for r in await lab.pool.fetch(STANDING)]


async def _central(lab: Lab, message: str) -> list[str]:
    assert lab.runtime.pool is not None
    async with lab.runtime.pool.acquire() as conn:
        await add_source(conn, "LAB2", "CENTRAL")
    await asyncio.sleep(2.5)  # the allow-list is re-read within SOURCES_TTL_SECONDS
    client = await lab.mllp()
    try:
        return msa(await client.exchange(message))
    finally:
        await client.close()


async def _post_as(lab: Lab, token: str, body: dict[str, Any]) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/fhir/Observation", json=body, headers=headers) as answer,
    ):
        return answer.status


async def test_a_result_stored_before_0031_shares_no_identifier(lab: Lab) -> None:
    """LAB2^CENTRAL's CRP 40 of order CEN9 (its parts not known) and LIS^HOSP's CRP 38 of
    order LOC5 at the same time: two results."""
    central = oru("C-1", [obx("1988-5", "40", "mg/L")], application="LAB2", facility="CENTRAL",
                  order="CEN9")  # fmt: skip
    assert (await _central(lab, central))[1] == "AA"
    await lab.pool.execute("UPDATE results SET identifier_parts = NULL")
    local = await _hl7(lab, "L-1", "38", order="LOC5")
    assert local[1] == "AA", (local, await _reason(lab))
    assert await _standing(lab) == [("crp", 40.0), ("crp", 38.0)]


@pytest.mark.parametrize("parts_known", [False, True])
async def test_a_test_not_obtained_is_never_sent_to_another_sample(
    lab: Lab, parts_known: bool
) -> None:
    """LAB2's neutrophil count a week earlier (of order CEN9 with its parts not known, or of
    order LOC5 too); the local CBC of order LOC5: ANC 0.2 and a manual count not obtained
    (X): stored, the X left out."""
    week_before = "20261113081500+0100"
    order = "LOC5" if parts_known else "CEN9"
    central = oru(
        "C-1", [obx("751-8", "3.1", "10*9/L", observed=week_before)],
        application="LAB2", facility="CENTRAL", order=order, order_time=week_before,
    )  # fmt: skip
    assert (await _central(lab, central))[1] == "AA"
    if not parts_known:
        await lab.pool.execute("UPDATE results SET identifier_parts = NULL")
    client = await lab.mllp()
    local = msa(await client.exchange(
        oru("L-1", [obx("751-8", "0.2", "10*9/L"), obx("753-4", "", "", status="X")],
            order="LOC5")))  # fmt: skip
    alone = msa(await client.exchange(
        oru("L-2", [obx("753-4", "", "", status="X")], order="LOC5")))  # fmt: skip
    await client.close()
    assert local[1] == "AA" and alone[1] == "AA", (local, alone, await _reason(lab))
    assert await _standing(lab) == [("neutrophils", 3.1), ("neutrophils", 0.2)]


async def test_two_fhir_labs_results_of_one_draw_are_two_results(lab: Lab) -> None:
    """Without identifiers (keyed by the collection time), or with one accession number in
    each lab's own system: neither is a copy of the other."""
    assert lab.runtime.pool is not None
    async with lab.runtime.pool.acquire() as conn:
        local = await create_token(conn, "local-lab", Role.LAB)
    at = {"effectiveDateTime": "2026-11-20T08:15:00+01:00"}
    untracked = [_observation("x", "1988-5", v, **at) for v in (40, 38)]
    for resource in untracked:
        del resource["identifier"]
    accessioned = [
        _observation("1001", "1988-5", v, **at)
        | {"identifier": [{"system": f"urn:{lab_name}-lab:obs", "value": "1001"}]}
        for v, lab_name in ((41, "central"), (39, "local"))
    ]
    for first, second in (untracked, accessioned):
        assert (await lab.post_fhir("/fhir/Observation", first))[0] == 201
        assert await _post_as(lab, local, second) == 201
    assert [v for _, v in await _standing(lab)] == [40.0, 38.0, 41.0, 39.0]


def _fhir_anc(value: float) -> dict[str, Any]:
    unit = {"unit": "10*9/L", "system": "http://unitsofmeasure.org", "code": "10*9/L"}
    return _fhir_crp(value) | {
        "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
        "valueQuantity": {"value": value} | unit,
    }


@pytest.mark.parametrize("anc", ["0.2", "0.3"])
async def test_a_panel_holding_one_copy(lab: Lab, anc: str) -> None:
    """The FHIR feed posts the ANC 0.2 of order ORD7; the HL7 feed the whole CBC. Its ANC
    saying 0.2 too is left out (AA, the answer says so), the platelets and Hb stored; its
    ANC saying 0.3 refuses the message (AE naming the FHIR sender), nothing stored."""
    assert (await lab.post_fhir("/fhir/Observation", _fhir_anc(0.2)))[0] == 201
    client = await lab.mllp()
    ack = msa(await client.exchange(oru("H-CBC", [
        obx("751-8", anc, "10*9/L"), obx("777-3", "18", "10*9/L"), obx("718-7", "6.1", "g/dL"),
    ], order="ORD7")))  # fmt: skip
    await client.close()
    if anc == "0.2":
        assert ack[1] == "AA" and "another sender" in ack[-1], ack
        assert [a for a, _ in await _standing(lab)] == ["neutrophils", "platelets", "haemoglobin"]
    else:
        assert ack[1] == "AE", ack
        assert "ambiguous-version" in str(
            await lab.pool.fetchval("SELECT reason_code FROM rejections")
        )
        assert await _standing(lab) == [("neutrophils", 0.2)]


async def test_a_preliminary_lets_no_second_final_through(lab: Lab) -> None:
    """HL7 P 40, FHIR F 40, HL7 F 40 (left out: the FHIR final is the sample's) and HL7 F 41
    (refused); and FHIR P, HL7 F, FHIR F alike: one final stands."""
    assert (await _hl7(lab, "H-P", "40", "P"))[1] == "AA"
    assert (await lab.post_fhir("/fhir/Observation", _fhir_crp(40)))[0] == 201
    assert (await _hl7(lab, "H-F", "40"))[1] == "AA"
    assert (await _hl7(lab, "H-F2", "41"))[1] == "AE"
    assert await _standing(lab) == [("crp", 40.0)]
    ord8 = {"order": "ORD8", "effective": "2026-11-21T08:15:00+01:00",
            "issued": "2026-11-21T09:00:00+01:00"}  # fmt: skip
    assert (await lab.post_fhir("/fhir/Observation", _fhir_crp(12, "preliminary", **ord8)))[
        0
    ] == 201
    assert (await _hl7(lab, "H-8", "12", order="ORD8", observed="20261121081500+0100"))[1] == "AA"
    status, _ = await lab.post_fhir("/fhir/Observation", _fhir_crp(12, **ord8))
    assert status == 200, status  # nothing created: the HL7 final is the sample's
    assert await _standing(lab) == [("crp", 40.0), ("crp", 12.0)]
