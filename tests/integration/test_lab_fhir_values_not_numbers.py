"""Review 157, through the real ``POST /fhir`` and ``POST /fhir/Observation`` (PostgreSQL
and broker): a trial result whose value is there but is no single number (a ``valueRange``,
``valueRatio``, ``valueSampledData``, a coded value, a ``valueQuantity`` with a comparator
and no value) is refused naming its type and element, never left out as not obtained beside
a stored CRP (each was answered 200 "nothing changed"); a ``valueQuantity`` with neither
value nor comparator and a ``dataAbsentReason`` stay not obtained."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_fhir_versions import bundle
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ANC = "751-8"


def trial_observation(identifier: str, loinc: str = ANC, **value: Any) -> dict[str, Any]:
    """A final Observation of the patient ``MRN`` with ``value`` as its value[x]."""
    resource = crp_observation(identifier)
    del resource["valueQuantity"]
    resource["code"] = {"coding": [{"system": LOINC, "code": loinc}]}
    return resource | value


def _quantity(value: float | None = None, **more: Any) -> dict[str, Any]:
    given = {"value": value} if value is not None else {}
    return given | {"unit": "10*9/L", "system": UCUM, "code": "10*9/L"} | more


NOT_NUMBERS: list[tuple[str, dict[str, Any]]] = [
    ("valueRange", {"valueRange": {"low": _quantity(0.3), "high": _quantity(0.4)},
                    "interpretation": [{"coding": [{"system": V3, "code": "L"}]}]}),
    ("valueRatio", {"valueRatio": {"numerator": _quantity(3), "denominator": _quantity(10)}}),
    ("valueSampledData", {"valueSampledData": {"origin": _quantity(0), "period": 1,
                                               "dimensions": 1, "data": "140 150"}}),
    ("valueQuantity", {"valueQuantity": _quantity(comparator="<")}),
    ("valueCodeableConcept", {"valueCodeableConcept": {"coding": [
        {"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative"}]}}),
    ("valueBoolean", {"valueBoolean": True}),
    ("valueDateTime", {"valueDateTime": "2026-11-20T08:00:00+01:00"}),
    ("valuePeriod", {"valuePeriod": {"start": "2026-11-20T08:00:00+01:00"}}),
    ("valueTime", {"valueTime": "08:00:00"}),
]  # fmt: skip


async def post_json(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}{path}", json=body) as response,
    ):
        return response.status, await response.json(content_type=None)


async def stored_results(lab: Lab) -> list[tuple[str, float]]:
    rows = await lab.pool.fetch("SELECT analyte, value FROM results ORDER BY analyte")
    return [(row["analyte"], row["value"]) for row in rows]


async def test_a_value_of_no_single_number_beside_a_crp_is_refused_never_left_out(
    lab: Lab,
) -> None:
    resources = [crp_observation("NN-CRP")] + [
        trial_observation(f"NN-{index}", **value) for index, (_, value) in enumerate(NOT_NUMBERS)
    ]
    status, answer = await post_json(lab, "/fhir", bundle("batch", resources))
    assert status == 200, answer
    crp, *refused = (entry["response"] for entry in answer["entry"])
    assert crp["status"].startswith("201"), crp
    for (element, _), response in zip(NOT_NUMBERS, refused, strict=True):
        assert response["status"].startswith("422"), (element, response)
        (issue,) = response["outcome"]["issue"]
        assert issue["diagnostics"].startswith("non-numeric-value: neutrophils value is "), issue
        assert f"(Observation.{element})" in issue["diagnostics"], issue
        assert issue["expression"] == [f"Observation.{element}"], issue
    assert await stored_results(lab) == [("crp", 20.0)]
    kept = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [row["reason_code"] for row in kept] == ["non-numeric-value"] * len(NOT_NUMBERS)
    assert await lab.metric("lab_results_not_obtained_total", channel="fhir") == 0


async def test_a_range_alone_is_told_as_a_range_not_as_empty(lab: Lab) -> None:
    (_, value), *_ = NOT_NUMBERS
    status, answer = await post_json(lab, "/fhir/Observation", trial_observation("NN-R", **value))
    assert status == 422, answer
    (issue,) = answer["issue"]
    assert issue["diagnostics"] == (
        "non-numeric-value: neutrophils value is a Range (Observation.valueRange), not one "
        "number: send the measurement in valueQuantity.value (a limit with "
        "valueQuantity.comparator)"
    ), issue
    assert issue["expression"] == ["Observation.valueRange"], issue


async def test_a_transaction_with_a_ratio_is_refused_naming_its_entry(lab: Lab) -> None:
    ratio = trial_observation("NN-T", **NOT_NUMBERS[1][1])
    status, answer = await post_json(
        lab, "/fhir", bundle("transaction", [crp_observation("NN-TC"), ratio])
    )
    assert status == 422, answer
    (issue,) = answer["issue"]
    assert issue["expression"] == ["Bundle.entry[1].resource.valueRatio"], issue
    assert await stored_results(lab) == []


async def test_an_empty_quantity_or_an_absent_value_stays_not_obtained(lab: Lab) -> None:
    """README: a valueQuantity of neither value nor comparator (an empty OBX-5) and a
    dataAbsentReason are not obtained: left out beside the CRP stored."""
    absent = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                          "code": "error"}]}  # fmt: skip
    resources = [
        crp_observation("NO-CRP"),
        trial_observation(
            "NO-1", valueQuantity={"unit": "10*9/L", "system": UCUM, "code": "10*9/L"}
        ),
        trial_observation("NO-2", loinc="777-3", dataAbsentReason=absent),
    ]
    status, answer = await post_json(lab, "/fhir", bundle("batch", resources))
    assert status == 200, answer
    statuses = [entry["response"]["status"][:3] for entry in answer["entry"]]
    assert statuses == ["201", "200", "200"], answer
    assert await stored_results(lab) == [("crp", 20.0)]
    assert await lab.metric("lab_results_not_obtained_total", channel="fhir") == 2
