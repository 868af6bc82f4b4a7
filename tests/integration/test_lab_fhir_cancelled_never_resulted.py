"""A FHIR Observation ``cancelled`` without a value whose key never held anything (review
157): the test was cancelled before it was resulted (as Epic and Cerner report a cancelled
order's tests), so there is nothing to withdraw and nothing to record. It is left out, as
HL7's X on a key that never held anything is: answered 200 with a diagnostics text saying
so, alone, in a batch and in a transaction, whose grade-4 ANC is stored (before, the whole
transaction was refused ``unknown-corrected-result``, "send the final result first", an
instruction that cannot be followed: no final result will come).

Still refused, with a reason saying what the sender can do: a ``cancelled`` that carries a
value, an ``entered-in-error`` (a withdrawal, FHIR's word for a released result found
wrong) finding nothing, and a ``cancelled`` finding nothing under its token's name while
the patient holds a result under that identifier under another sender's name (a token
replaced under a new name: the result it may be meant for stands)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from shared.auth import Role, create_token
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
NOT_PERFORMED = {"coding": [{"system": ABSENT, "code": "not-performed"}]}
AT = "2026-11-20T08:00:00+01:00"


def _observation(ident: str, code: str, value: float | None = None, **more: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:lab", "value": ident}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": AT,
    }
    if value is not None:
        unit = "mg/L" if code == "1988-5" else "10*9/L"
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return resource | more


def _anc(ident: str) -> dict[str, Any]:
    """A grade-4 neutrophil count (0.2 10*9/L, flagged LL)."""
    return _observation(
        ident, "751-8", 0.2, interpretation=[{"coding": [{"system": V3, "code": "LL"}]}]
    )


def _cancelled(ident: str, **more: Any) -> dict[str, Any]:
    """A platelet count cancelled before it was resulted."""
    return _observation(ident, "777-3", status="cancelled", **more)


def _bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}", "resource": r,
             "request": {"method": "POST", "url": "Observation"}}
            for i, r in enumerate(resources)
        ],
    }  # fmt: skip


async def _post(lab: Lab, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    headers = {
        "Authorization": f"Bearer {token or lab.lab_token}",
        "Content-Type": "application/fhir+json",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}{path}", data=json.dumps(body), headers=headers) as response,
    ):
        return response.status, await response.json()


async def _results(lab: Lab) -> list[tuple[str, float | None, bool]]:
    rows = await lab.pool.fetch(
        "SELECT analyte, value, cancelled_at IS NOT NULL AS withdrawn FROM results"
        " ORDER BY recorded_at"
    )
    return [(r["analyte"], r["value"], r["withdrawn"]) for r in rows]


async def _rejections(lab: Lab) -> list[str]:
    return [r["reason_code"] for r in await lab.pool.fetch("SELECT reason_code FROM rejections")]


def _diagnostics(outcome: dict[str, Any]) -> str:
    return " ".join(issue.get("diagnostics", "") for issue in outcome["issue"])


def _entries(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["response"]["status"], _diagnostics(e["response"]["outcome"])) for e in answer["entry"]
    ]


@pytest.mark.parametrize("absent", [True, False], ids=["data-absent-reason", "no-value"])
async def test_a_transaction_stores_its_anc_beside_a_test_cancelled_before_resulting(
    lab: Lab, absent: bool
) -> None:
    cancelled = _cancelled("CX-PLT", **({"dataAbsentReason": NOT_PERFORMED} if absent else {}))
    status, answer = await _post(lab, "/fhir", _bundle("transaction", _anc("CX-ANC"), cancelled))
    assert status == 200, answer
    assert await _results(lab) == [("neutrophils", 0.2, False)], answer
    (anc_status, _), (plt_status, said) = _entries(answer)
    assert (anc_status, plt_status) == ("201 Created", "200 OK"), answer
    assert "cancelled" in said and "nothing to withdraw" in said, said
    assert await _rejections(lab) == []
    assert await lab.metric("lab_results_not_obtained_total", channel="fhir") == 1


async def test_a_test_cancelled_before_resulting_alone_and_in_a_batch_stores_nothing(
    lab: Lab,
) -> None:
    status, outcome = await _post(lab, "/fhir/Observation", _cancelled("CX-1"))
    assert status == 200, outcome
    assert outcome["issue"][0]["severity"] == "information"
    assert "nothing to withdraw" in _diagnostics(outcome), outcome
    status, answer = await _post(lab, "/fhir", _bundle("batch", _cancelled("CX-2"), _anc("CX-3")))
    assert status == 200, answer
    assert [s for s, _ in _entries(answer)] == ["200 OK", "201 Created"], answer
    assert "nothing to withdraw" in _entries(answer)[0][1], answer
    assert await _results(lab) == [("neutrophils", 0.2, False)]
    assert await _rejections(lab) == []
    # a final result under the key later is a new one
    status, outcome = await _post(lab, "/fhir/Observation", _observation("CX-1", "777-3", 150))
    assert status == 201, outcome


async def test_a_cancelled_observation_still_withdraws_the_result_its_key_holds(
    lab: Lab,
) -> None:
    assert (await _post(lab, "/fhir/Observation", _observation("CX-9", "1988-5", 45)))[0] == 201
    status, outcome = await _post(lab, "/fhir/Observation", _cancelled("CX-9") | {
        "code": {"coding": [{"system": LOINC, "code": "1988-5"}]}})  # fmt: skip
    assert status == 200 and "withdrawn" in _diagnostics(outcome), outcome
    assert await _results(lab) == [("crp", 45.0, True)]


async def test_what_still_finds_nothing_is_refused_saying_what_to_do(lab: Lab) -> None:
    """A ``cancelled`` with a value, and an ``entered-in-error``, finding nothing: refused
    (a transaction whole), each reason saying what the sender can do."""
    valued = _observation("CX-V", "777-3", 150, status="cancelled")
    status, outcome = await _post(lab, "/fhir", _bundle("transaction", _anc("CX-A1"), valued))
    assert status == 422, outcome
    said = _diagnostics(outcome)
    assert "unknown-corrected-result" in said and "without a value" in said, said
    wrong = _observation("CX-E", "777-3", status="entered-in-error")
    status, outcome = await _post(lab, "/fhir", _bundle("transaction", _anc("CX-A2"), wrong))
    assert status == 422, outcome
    said = _diagnostics(outcome)
    assert "unknown-corrected-result" in said and "send the final result first" not in said
    assert "cancelled" in said, said  # a test never resulted is sent cancelled
    assert await _results(lab) == []


async def test_a_cancelled_from_a_token_renamed_is_refused_while_the_result_stands(
    lab: Lab,
) -> None:
    """The platelet count stored under the token's old name: a ``cancelled`` from a token
    under a new name finds nothing under its own name, but the patient's result under that
    identifier stands under the old one. Refused (the lab is told), never left out."""
    assert (await _post(lab, "/fhir/Observation", _observation("CX-R", "777-3", 150)))[0] == 201
    async with lab.pool.acquire() as conn:
        renamed = await create_token(conn, "central-lab-2027", Role.LAB)
    status, outcome = await _post(lab, "/fhir/Observation", _cancelled("CX-R"), renamed)
    assert status == 422, outcome
    said = _diagnostics(outcome)
    assert "another sender" in said and "central-lab^FHIR" in said, said
    status, answer = await _post(
        lab, "/fhir", _bundle("transaction", _anc("CX-A3"), _cancelled("CX-R")), renamed
    )
    assert status == 422, answer
    assert await _results(lab) == [("platelets", 150.0, False)]


async def test_hl7_and_json_keep_their_answers(lab: Lab) -> None:
    """HL7's X on a key that never held anything is left out (AA); JSON's ``cancelled``
    beside an ANC is not obtained (202, the ANC stored)."""
    client = await lab.mllp()
    cancelled = obx("777-3", "", "", status="X")
    ack = await client.exchange(oru("CX-H1", [obx("751-8", "0.2", "10*9/L"), cancelled]))
    await client.close()
    assert msa(ack)[1] == "AA", ack
    body = {
        "message_id": "CX-J1",
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [
            {"result_id": "CX-J1-1", "loinc": "751-8", "value": "0.2", "unit": "10*9/L",
             "status": "final", "collected_at": AT},
            {"result_id": "CX-J1-2", "loinc": "777-3", "value": "", "unit": "10*9/L",
             "status": "cancelled", "collected_at": AT},
        ],
    }  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/v1/lab-results",
            json=body,
            headers={"Authorization": f"Bearer {lab.lab_token}"},
        ) as response,  # fmt: skip
    ):
        assert response.status == 202, await response.text()
    assert await _results(lab) == [("neutrophils", 0.2, False)] * 2
    assert await _rejections(lab) == []
