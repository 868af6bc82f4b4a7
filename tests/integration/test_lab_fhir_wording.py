"""Through the real ``POST /fhir/Observation`` and ``POST /fhir`` (PostgreSQL and broker): a
FHIR sender's 422 answers, kept rejections and ``lab.rejected.v1`` events name FHIR's
elements (``Observation.identifier``, ``Observation.status corrected``,
``Observation.effective[x]``, ``Observation.valueQuantity``, ``Observation.subject``), never
HL7's fields (``MSH-10``, ``OBX-4``, ``OBX-11 C``, ``PID-3``, the order and test, an order
number); the OperationOutcome issue's ``expression`` is the one element a reason names."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_fhir_versions import bundle
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

HL7_WORDS = re.compile(
    r"\b(?:MSH|PID|PV1|ORC|OBR|OBX|NTE|SPM)-[0-9]+|order and test|order number|sub-id"
    r"|\bstatus [A-Z]\b"
)


async def _post(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}{path}", json=body) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _refused(lab: Lab, body: dict[str, Any], code: str) -> tuple[dict[str, Any], str]:
    """The one issue of ``body``'s 422 answer, and the reason kept and published, each
    checked to name no HL7 field."""
    status, answer = await _post(lab, "/fhir/Observation", body)
    assert status == 422, answer
    (issue,) = answer["issue"]
    assert issue["diagnostics"].startswith(f"{code}: "), issue
    assert not HL7_WORDS.search(issue["diagnostics"]), issue
    return issue, await _kept_and_published(lab, code)


async def _kept_and_published(lab: Lab, code: str) -> str:
    kept = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    assert [row["reason_code"] for row in kept] == [code], kept
    reason: str = kept[0]["reason"]
    assert not HL7_WORDS.search(reason), reason
    (event,) = await lab.events("lab.rejected.v1", 1)
    assert event.payload["reason"] == reason, event.payload
    return reason


def _observation(identifier: str, **changes: Any) -> dict[str, Any]:
    return crp_observation(identifier) | changes


async def test_an_identifier_reused_for_another_sample_is_told_as_the_identifier(
    lab: Lab,
) -> None:
    assert (await _post(lab, "/fhir/Observation", _observation("W-1")))[0] == 201
    later = _observation("W-1", effectiveDateTime="2026-11-20T09:00:00+01:00")
    issue, reason = await _refused(lab, later, "result-of-another-sample")
    said = (
        "the identifier (Observation.identifier) of this final result holds a result "
        "collected at another time: a new sample needs an identifier of its own (a wrong "
        "collection time is corrected with Observation.status corrected)"
    )
    assert reason == said
    assert issue["diagnostics"] == f"result-of-another-sample: {said}"


async def test_a_changed_final_result_is_told_by_its_identifier_and_status(lab: Lab) -> None:
    assert (await _post(lab, "/fhir/Observation", _observation("W-2")))[0] == 201
    changed = _observation("W-2")
    changed["valueQuantity"] = changed["valueQuantity"] | {"value": 30}
    issue, reason = await _refused(lab, changed, "result-of-another-sample")
    assert reason.startswith(
        "send a changed final result as a correction (Observation.status corrected or "
        "amended): this identifier (Observation.identifier) already holds a final or "
        "corrected result"
    ), reason
    assert reason.endswith("(a new result needs an identifier of its own)"), reason
    assert "expression" not in issue, issue  # two elements: neither alone is the fault


async def test_a_unit_not_converted_names_the_quantity(lab: Lab) -> None:
    issue, reason = await _refused(lab, crp_observation("W-3", unit="mm[Hg]"), "unconvertible-unit")
    assert "(Observation.valueQuantity) cannot be converted to mg/L for crp" in reason, reason
    assert issue["expression"] == ["Observation.valueQuantity"], issue


async def test_a_result_without_a_collection_time_names_effective(lab: Lab) -> None:
    dated = _observation("W-4", effectiveDateTime="2026-11-20")  # a date: no time of day
    issue, reason = await _refused(lab, dated, "missing-collection-time")
    assert reason == "crp result has no collection time (Observation.effective[x])"
    assert issue["expression"] == ["Observation.effective[x]"], issue


async def test_a_correction_of_nothing_stored_names_the_identifier(lab: Lab) -> None:
    correction = _observation("W-5", status="corrected")
    issue, reason = await _refused(lab, correction, "unknown-corrected-result")
    assert reason.startswith(
        "correction of a result that is not stored (no final result under this identifier "
        "(Observation.identifier)): send the final result first"
    ), reason
    assert issue["expression"] == ["Observation.identifier"], issue


async def test_a_result_naming_no_patient_names_the_subject(lab: Lab) -> None:
    nobody = crp_observation("W-6")
    del nobody["subject"]
    issue, reason = await _refused(lab, nobody, "missing-patient-identifier")
    assert "(Observation.subject" in reason, reason
    assert issue["expression"] == ["Observation.subject"], issue


async def test_a_transaction_names_the_element_in_the_entry_that_failed_it(lab: Lab) -> None:
    resources = [crp_observation("W-7"), _observation("W-8", effectiveDateTime="2026-11-20")]
    status, answer = await _post(lab, "/fhir", bundle("transaction", resources))
    assert status == 422, answer
    (issue,) = answer["issue"]
    assert issue["expression"] == ["Bundle.entry[1].resource.effective[x]"], issue
    reason = await _kept_and_published(lab, "missing-collection-time")
    said = "transaction rejected: crp result has no collection time (Observation.effective[x])"
    assert reason == said
    assert issue["diagnostics"] == f"missing-collection-time: {said}"
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_a_batch_entry_names_the_element_in_its_own_outcome(lab: Lab) -> None:
    resources = [crp_observation("W-9"), crp_observation("W-10", unit="mm[Hg]")]
    status, answer = await _post(lab, "/fhir", bundle("batch", resources))
    assert status == 200, answer
    stored, refused = (entry["response"] for entry in answer["entry"])
    assert stored["status"] == "201 Created", stored
    (issue,) = refused["outcome"]["issue"]
    assert issue["expression"] == ["Observation.valueQuantity"], issue
    assert not HL7_WORDS.search(issue["diagnostics"]), issue
    reason = await _kept_and_published(lab, "unconvertible-unit")
    assert "(Observation.valueQuantity)" in reason, reason
