"""Review 180 through the real ``POST /fhir`` and ``POST /fhir/Observation`` (PostgreSQL,
broker).

- A CBC panel whose component is a neutrophil count coded ``751-8`` under a misspelt
  ``https://loinc.org``, or a CRP named ``CRP`` under a laboratory's own code, beside a good
  CRP: the panel's entry was answered 200 "ignored", nothing kept, and the transaction
  committed the CRP (alone: 422 unknown-analyte, not naming the component). It is refused
  400 ``not-supported`` at ``component[i].code`` and kept, with its ``lab.rejected.v1``, as
  a component under ``http://loinc.org`` is; so is such a panel contained in another.
- An ``effectivePeriod`` ending before it starts (FHIR invariant per-1) was read by its
  start; it is refused.
- A decimal written as a JSON string (``"value": "15"``) was read as the number; FHIR JSON
  writes decimals as numbers, and it is refused.
- A reference range whose ``unit`` and ``code`` spell one unit two ways (``10*9/L``,
  ``10*3/uL``) was dropped; it is read, as the same pair on the value is.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_fhir_versions import bundle
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration
UCUM = "http://unitsofmeasure.org"
MISSPELT_ANC = {
    "code": {"coding": [{"system": "https://loinc.org", "code": "751-8"}]},
    "valueQuantity": {"value": 0.3, "unit": "10*9/L", "system": UCUM, "code": "10*9/L"},
}
NAMED_CRP = {
    "code": {"coding": [{"system": "urn:oid:2.16.756.999.1", "code": "CRP"}], "text": "CRP"},
    "valueQuantity": {"value": 85, "unit": "mg/L", "system": UCUM, "code": "mg/L"},
}
COMPONENTS = pytest.mark.parametrize(
    "component", [MISSPELT_ANC, NAMED_CRP], ids=["https-loinc-anc", "crp-by-name"]
)


def cbc_panel(identifier: str, component: dict[str, Any]) -> dict[str, Any]:
    """A final CBC panel (58410-2) of the patient, no value of its own, one component."""
    panel = crp_observation(identifier)
    del panel["valueQuantity"]
    panel["code"] = {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]}
    return panel | {"component": [component]}


async def rows(lab: Lab) -> tuple[list[tuple[str, float]], list[tuple[str, str]]]:
    results = await lab.pool.fetch("SELECT analyte, value FROM results ORDER BY analyte")
    rejections = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    return (
        [(r["analyte"], r["value"]) for r in results],
        [(r["reason_code"], r["reason"]) for r in rejections],
    )


@COMPONENTS
async def test_in_a_batch_the_panel_is_refused_at_its_component_and_kept(
    lab: Lab, component: dict[str, Any]
) -> None:
    body = bundle("batch", [crp_observation("B-CRP"), cbc_panel("B-CBC", component)])
    status, answer = await lab.post_fhir("/fhir", body)
    assert status == 200, answer
    crp, panel = (entry["response"] for entry in answer["entry"])
    assert crp["status"].startswith("201"), crp
    assert panel["status"].startswith("400"), panel
    (issue,) = panel["outcome"]["issue"]
    assert issue["code"] == "not-supported"
    assert issue["expression"] == ["Bundle.entry[1].resource.component[0].code"]
    results, rejections = await rows(lab)
    assert results == [("crp", 20)]
    ((code, reason),) = rejections
    assert code == "unsupported-message-type" and "component[0].code" in reason
    (rejected,) = await lab.events(LAB_REJECTED, 1)
    assert rejected.payload["reason_code"] == "unsupported-message-type"


@COMPONENTS
async def test_a_transaction_holding_the_panel_fails_whole(
    lab: Lab, component: dict[str, Any]
) -> None:
    body = bundle("transaction", [crp_observation("T-CRP"), cbc_panel("T-CBC", component)])
    status, answer = await lab.post_fhir("/fhir", body)
    assert status == 400, answer
    (issue,) = answer["issue"]
    assert (issue["code"], issue["expression"]) == (
        "not-supported", ["Bundle.entry[1].resource.component[0].code"],
    )  # fmt: skip
    results, rejections = await rows(lab)
    assert results == [] and [code for code, _ in rejections] == ["unsupported-message-type"]
    assert len(await lab.events(LAB_REJECTED, 1)) == 1


@COMPONENTS
async def test_posted_alone_the_refusal_names_the_component(
    lab: Lab, component: dict[str, Any]
) -> None:
    status, answer = await lab.post_fhir("/fhir/Observation", cbc_panel("S-CBC", component))
    assert status == 400, answer
    (issue,) = answer["issue"]
    assert (issue["code"], issue["expression"]) == (
        "not-supported", ["Observation.component[0].code"],
    )  # fmt: skip
    assert "send each as its own Observation" in issue["diagnostics"]
    results, rejections = await rows(lab)
    assert results == [] and [code for code, _ in rejections] == ["unsupported-message-type"]


async def test_such_a_panel_contained_in_another_is_refused_where_it_is(lab: Lab) -> None:
    inner = {"id": "cbc", **cbc_panel("C-CBC", MISSPELT_ANC)}
    del inner["subject"]
    outer = cbc_panel("C-OUTER", MISSPELT_ANC)
    del outer["component"]
    outer |= {"contained": [inner], "hasMember": [{"reference": "#cbc"}]}
    body = bundle("batch", [crp_observation("C-CRP"), outer])
    status, answer = await lab.post_fhir("/fhir", body)
    assert status == 200, answer
    panel = answer["entry"][1]["response"]
    assert panel["status"].startswith("400"), panel
    assert panel["outcome"]["issue"][0]["expression"] == ["Bundle.entry[1].resource.contained[0]"]
    results, rejections = await rows(lab)
    assert results == [("crp", 20)] and len(rejections) == 1


REVERSED = {"start": "2026-11-20T08:00:00+01:00", "end": "2026-11-19T08:10:00+01:00"}


@pytest.mark.parametrize("path", ["/fhir/Observation", "/fhir"])
async def test_a_period_ending_before_it_starts_is_refused(lab: Lab, path: str) -> None:
    crp = crp_observation("P-CRP")
    del crp["effectiveDateTime"]
    crp["effectivePeriod"] = REVERSED
    body = crp if path == "/fhir/Observation" else bundle("transaction", [crp])
    status, answer = await lab.post_fhir(path, body)
    assert status == 400, answer
    (issue,) = answer["issue"]
    where = "Observation" if path == "/fhir/Observation" else "Bundle.entry[0].resource"
    assert (issue["code"], issue["expression"]) == ("invariant", [f"{where}.effectivePeriod"])
    assert "per-1" in issue["diagnostics"]
    results, rejections = await rows(lab)
    assert results == [] and [code for code, _ in rejections] == ["implausible-time"]


async def test_a_value_written_as_a_string_is_refused_in_its_entry_alone(lab: Lab) -> None:
    written = crp_observation("S-1")
    written["valueQuantity"]["value"] = "15"
    in_range = crp_observation("S-2")
    in_range["referenceRange"] = [{"high": {"value": "5", "unit": "mg/L"}}]
    body = bundle("batch", [crp_observation("S-0"), written, in_range])
    status, answer = await lab.post_fhir("/fhir", body)
    assert status == 200, answer
    good, *refused = (entry["response"] for entry in answer["entry"])
    assert good["status"].startswith("201"), good
    expressions = [r["outcome"]["issue"][0]["expression"] for r in refused]
    assert expressions == [
        ["Bundle.entry[1].resource.valueQuantity.value"],
        ["Bundle.entry[2].resource.referenceRange[0].high.value"],
    ]
    assert all(r["status"].startswith("400") for r in refused)
    status, alone = await lab.post_fhir("/fhir/Observation", written)
    assert status == 400, alone
    (issue,) = alone["issue"]
    assert issue["code"] == "structure"
    assert issue["expression"] == ["Observation.valueQuantity.value"]
    assert "15" not in issue["diagnostics"]
    results, rejections = await rows(lab)
    assert results == [("crp", 20)]
    assert [code for code, _ in rejections] == ["malformed-message"] * 3


async def test_a_range_in_one_unit_spelt_two_ways_is_read(lab: Lab) -> None:
    anc = crp_observation("R-ANC")
    anc["code"] = {"coding": [{"system": "http://loinc.org", "code": "751-8"}]}
    anc["valueQuantity"] = {"value": 0.3, "unit": "10*9/L", "system": UCUM, "code": "10*3/uL"}
    bound = {"unit": "10*9/L", "system": UCUM, "code": "10*3/uL"}
    anc["referenceRange"] = [{"low": {"value": 1.5, **bound}, "high": {"value": 7.0, **bound}}]
    status, answer = await lab.post_fhir("/fhir/Observation", anc)
    assert status == 201, answer
    row = await lab.pool.fetchrow("SELECT value, reference_low, reference_high FROM results")
    assert row is not None
    assert (row["value"], row["reference_low"], row["reference_high"]) == (0.3, 1.5, 7.0)
