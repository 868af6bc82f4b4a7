"""Over the real interfaces (MLLP, FHIR, JSON; PostgreSQL, broker; review 155): a CRP under a
LOINC code PROTOCOL section 6 does not list (``48421-2^CRP^LN``, a point-of-care CRP in
capillary blood) beside a neutrophil count was answered AA, 1 result stored, the CRP neither
stored nor refused. A result named as CRP whose codes the trial does not read refuses its
message as any unusable trial result does (AE at its OBX-3, 422), kept, with what to do;
nothing of it is stored. A comment about a CRP is still left out."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import MRN, TS, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

ANC = obx("751-8", "2.1", "10*9/L")
POC_CRP = f"NM|48421-2^CRP^LN||45|mg/L|0-5|H|||F|||{TS}"
REASON = (
    "send the CRP (by its name in OBX-3) coded '48421-2' under 'LN' as 1988-5: the trial "
    "does not list its code (PROTOCOL section 6: 1988-5, 30522-7; a LOINC code is never mapped)"
)


def err(ack: str) -> str:
    return next(segment for segment in ack.split("\r") if segment.startswith("ERR"))


async def test_a_crp_under_an_unlisted_loinc_code_is_answered_ae_and_kept(lab: Lab) -> None:
    blood = POC_CRP.replace("48421-2^CRP^LN", "71426-1^C-reaktives Protein^LN")
    comment = f"FT|48421-2^CRP comment^LN||haemolysed, repeat advised||||||F|||{TS}"
    client = await lab.mllp()
    try:
        refused = await client.exchange(oru("R155-1", [ANC, POC_CRP]))
        refused_too = await client.exchange(oru("R155-2", [ANC, blood], order="ORD2"))
        commented = await client.exchange(oru("R155-3", [ANC, comment], order="ORD3"))
        listed = await client.exchange(
            oru("R155-4", [ANC, POC_CRP.replace("48421-2", "1988-5")], order="ORD4")
        )
    finally:
        await client.close()
    assert msa(refused)[1:] == ["AE", "R155-1", f"{REASON[:77]}..."], refused  # 80 shown
    assert err(refused).endswith(REASON), refused
    assert err(refused).startswith("ERR||OBX^2^3|103^"), refused
    assert msa(refused_too)[1:3] == ["AE", "R155-2"], refused_too
    assert msa(refused_too)[3].startswith("send the CRP (by its name in OBX-3) coded '71426-1'")
    assert msa(commented)[1:] == ["AA", "R155-3", "accepted; 1 result(s) stored"], commented
    assert msa(listed)[1:3] == ["AA", "R155-4"], listed
    rejections = await lab.pool.fetch(
        "SELECT reason_code, reason, payload FROM rejections ORDER BY received_at"
    )
    assert [r["reason_code"] for r in rejections] == ["unknown-analyte"] * 2
    assert rejections[0]["reason"] == REASON
    assert "48421-2^CRP^LN" in rejections[0]["payload"]  # the kept copy shows the code
    rows = await lab.pool.fetch("SELECT analyte, value FROM results ORDER BY analyte, value")
    # the comment's order's count, and the listed CRP's order's: nothing of R155-1 or -2
    assert [(r["analyte"], r["value"]) for r in rows] == [
        ("crp", 45), ("neutrophils", 2.1), ("neutrophils", 2.1),
    ]  # fmt: skip
    events = await lab.events(LAB_REJECTED, 2)
    assert [e.payload["reason_code"] for e in events][:2] == ["unknown-analyte"] * 2


def fhir_observation(identifier: str, loinc: str, value: float, unit: str, **code: Any) -> Any:
    coding = {"system": "http://loinc.org", "code": loinc, **code}
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": identifier}],
        "status": "final",
        "code": {"coding": [coding]},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip


async def test_a_fhir_crp_under_an_unlisted_code_is_refused_never_ignored(lab: Lab) -> None:
    anc = fhir_observation("F155-ANC", "751-8", 2.1, "10*9/L")
    crp = fhir_observation("F155-CRP", "48421-2", 45, "mg/L", display="CRP")
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    entries = [{"resource": anc}, {"resource": crp}]
    async with aiohttp.ClientSession() as http:
        transaction = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        async with http.post(f"{lab.http}/fhir", json=transaction, headers=headers) as response:
            assert response.status == 422, await response.text()
            outcome = await response.json()
        batch = {"resourceType": "Bundle", "type": "batch", "entry": entries}
        async with http.post(f"{lab.http}/fhir", json=batch, headers=headers) as response:
            assert response.status == 200, await response.text()
            answered = await response.json()
    issue = outcome["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.code"], outcome
    assert (
        "send the CRP (by its name in Observation.code) coded '48421-2' under "
        "'http://loinc.org' as 1988-5: " in issue["diagnostics"]
    ), outcome
    statuses = [e["response"]["status"].split()[0] for e in answered["entry"]]
    assert statuses == ["201", "422"], answered
    rows = await lab.pool.fetch("SELECT analyte FROM results")
    assert [r["analyte"] for r in rows] == ["neutrophils"]
    reasons = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in reasons] == ["unknown-analyte"] * 2


ABOUT_A_CRP = [
    f"NM|CAR^CRP/Albumin^99LAB||0.45||||||F|||{TS}",
    f"NM|CRPV^CRP Vorwert^99LAB||12|mg/L|||||F|||{TS}",
    f"ST|CRPT^CRP Messzeit^99LAB||08:15||||||F|||{TS}",
    f"NM|CRPDIL^CRP dilution^99LAB||10||||||F|||{TS}",
]


async def test_a_test_about_a_crp_beside_a_grade_4_count_leaves_the_message_stored(
    lab: Lab,
) -> None:
    """Review 165: a grade-4 neutrophil count and a CRP under their listed codes, with a
    result about a CRP (a ratio, a previous value, a time, a dilution) under the laboratory's
    own code, were answered AE, nothing stored: the count lost. Such a name is another
    test's, left out as before; the count and the CRP are stored."""
    anc = obx("751-8", "0.3", "10*9/L")
    listed = f"NM|1988-5^CRP^LN||45|mg/L|0-5|H|||F|||{TS}"
    client = await lab.mllp()
    try:
        acks = [
            await client.exchange(oru(f"R165-{n}", [anc, listed, about], order=f"ORD165{n}"))
            for n, about in enumerate(ABOUT_A_CRP)
        ]
    finally:
        await client.close()
    for n, ack in enumerate(acks):
        assert msa(ack)[1:] == ["AA", f"R165-{n}", "accepted; 2 result(s) stored"], ack
    rows = await lab.pool.fetch("SELECT analyte, value FROM results ORDER BY analyte")
    assert [(r["analyte"], r["value"]) for r in rows] == [("crp", 45)] * 4 + [
        ("neutrophils", 0.3)
    ] * 4
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0
