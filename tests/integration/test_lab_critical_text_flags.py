"""Review 157, through the real MLLP socket, ``POST /fhir`` and ``POST /v1/lab-results``
(PostgreSQL and broker): a text saying a result was not obtained (``hemolysed``,
``CLUMPED``) flagged ``AA`` (critically abnormal, HL7 table 0078) says it was judged: it is
refused on every channel, as ``LL``, ``HH``, ``<`` and ``>`` are (review 154), never left
out beside a stored CRP."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import MRN, crp_observation, msa
from tests.integration.test_lab_fhir_values_not_numbers import (
    V3,
    post_json,
    stored_results,
    trial_observation,
)
from tests.integration.test_lab_fhir_versions import bundle
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

CRITICAL = [{"coding": [{"system": V3, "code": "AA"}]}]


async def test_a_text_of_no_value_flagged_critical_is_refused_over_fhir(lab: Lab) -> None:
    resources = [
        crp_observation("AA-CRP"),
        trial_observation("AA-1", valueString="hemolysed", interpretation=CRITICAL),
    ]
    status, answer = await post_json(lab, "/fhir", bundle("batch", resources))
    assert status == 200, answer
    crp, flagged = (entry["response"] for entry in answer["entry"])
    assert crp["status"].startswith("201") and flagged["status"].startswith("422"), answer
    assert await stored_results(lab) == [("crp", 20.0)]


def _oru(control_id: str, *segments: str) -> str:
    return "\r".join(
        (
            f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120103000+0100||ORU^R01|{control_id}|P|2.5",
            f"PID|1||{MRN}^^^HOSP^MR",
            f"OBR|1|P-{control_id}|F-{control_id}|CBC^CBC^L|||20261120081500+0100",
            *(f"OBX|{i}|{s}" for i, s in enumerate(segments, start=1)),
        )
    ) + "\r"  # fmt: skip


async def test_a_text_of_no_value_flagged_critical_is_refused_over_mllp(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        ack = await client.exchange(_oru(
            "AA-H1", "NM|1988-5^CRP^LN||12|mg/L|<5|H|||F",
            "ST|777-3^Platelets^LN||CLUMPED|10*9/L|150-400|AA|||F",
        ))  # fmt: skip
    finally:
        await client.close()
    assert msa(ack)[1] == "AE", ack
    assert await stored_results(lab) == []


async def test_a_text_of_no_value_flagged_critical_is_refused_over_json(lab: Lab) -> None:
    def result(result_id: str, loinc: str, value: str, unit: str, **more: str) -> dict[str, str]:
        return {"result_id": result_id, "loinc": loinc, "value": value, "unit": unit,
                "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"} | more  # fmt: skip

    body = {
        "message_id": "AA-J1", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [result("J-1", "1988-5", "12", "mg/L"),
                    result("J-2", "777-3", "hemolysed", "10*9/L", abnormal_flag="AA")],
    }  # fmt: skip
    status, answer = await post_json(lab, "/v1/lab-results", body)
    assert status == 422, answer
    assert await stored_results(lab) == []
