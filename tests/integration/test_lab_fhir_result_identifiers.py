"""A FHIR result's identifiers have no order (review 121): a resend or withdrawal listing them
in another order, or naming the result by another of its identifiers, finds the stored
result; identifiers naming two stored results are refused; an order number (FILL, PLAC)
shared by a panel's Observations keys each test's result apart. Through POST
/fhir/Observation and /fhir (transaction, batch) on real PostgreSQL and broker."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_fhir_versions import (
    bundle,
    post,
    rejection_codes,
    standing_values,
)
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def identified(
    *identifiers: dict[str, Any], status: str = "final", value: float = 20
) -> dict[str, Any]:
    observation = crp_observation("unused")
    observation["identifier"] = list(identifiers)
    observation["status"] = status
    observation["valueQuantity"]["value"] = value
    return observation


def ident(system: str, value: str, type_code: str | None = None) -> dict[str, Any]:
    written: dict[str, Any] = {"system": system, "value": value}
    if type_code:
        written["type"] = {"coding": [{"system": V2_0203, "code": type_code}]}
    return written


def accession(loinc: str, value: float, status: str = "final") -> dict[str, Any]:
    """A blood count result named by the order's accession number, typed FILL."""
    observation = identified(ident("urn:lab:accession", "ACC-777", "FILL"), status=status)
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": loinc}]}
    observation["valueQuantity"] = {
        "value": value, "unit": "10*9/L", "system": "http://unitsofmeasure.org", "code": "10*9/L",
    }  # fmt: skip
    return observation


async def observation(lab: Lab, body: dict[str, Any]) -> int:
    return (await post(lab, "/fhir/Observation", body))[0]


async def stored_count(lab: Lab) -> int:
    return int(await lab.pool.fetchval("SELECT count(*) FROM results"))


async def test_a_resend_in_another_order_is_stored_once_and_its_withdrawal_withdraws_it(
    lab: Lab,
) -> None:
    first = identified(ident("urn:lab", "Z-FILL"), ident("urn:placer", "Z-PLAC"))
    swapped = copy.deepcopy(first)
    swapped["identifier"].reverse()
    withdrawal = copy.deepcopy(swapped)
    withdrawal["status"] = "entered-in-error"
    assert await observation(lab, first) == 201
    assert await observation(lab, swapped) in {200, 201}
    assert await stored_count(lab) == 1  # stored and published once
    assert await observation(lab, withdrawal) == 200
    assert await standing_values(lab) == []  # nothing of it stands


async def test_a_new_identifier_in_front_finds_the_stored_result(lab: Lab) -> None:
    original = identified(ident("urn:lab", "Q2-A"), value=44)
    corrected = identified(
        ident("urn:lab:instance", "Q2-B"), ident("urn:lab", "Q2-A"), status="corrected", value=4.4
    )
    assert await observation(lab, original) == 201
    assert await observation(lab, corrected) == 201
    assert await standing_values(lab) == [4.4]
    # named by the identifier it gained alone (stored with it): withdrawn
    withdrawal = identified(ident("urn:lab:instance", "Q2-B"), status="entered-in-error")
    assert await observation(lab, withdrawal) == 200
    assert await standing_values(lab) == []
    assert await rejection_codes(lab) == []


async def test_identifiers_of_two_stored_results_are_refused_and_kept(lab: Lab) -> None:
    one = identified(ident("urn:lab", "R-ONE"), value=30)
    two = identified(ident("urn:lab", "R-TWO"), value=40)
    two["effectiveDateTime"] = "2026-11-21T08:00:00+01:00"
    both = identified(
        ident("urn:lab", "R-TWO"), ident("urn:lab", "R-ONE"), status="corrected", value=3
    )
    assert [await observation(lab, body) for body in (one, two)] == [201, 201]
    assert await observation(lab, both) == 422
    assert await rejection_codes(lab) == ["conflicting-result-identifiers"]
    assert await standing_values(lab) == [30, 40]


async def test_a_panel_sharing_its_accession_number_is_stored_whole(lab: Lab) -> None:
    neutrophils, platelets = accession("751-8", 0.4), accession("777-3", 35)
    status, entries = await post(lab, "/fhir", bundle("transaction", [neutrophils, platelets]))
    assert (status, entries) == (200, [201, 201])
    assert sorted(await standing_values(lab)) == [0.4, 35]
    # one at a time, and a correction of one of them, found by the accession and its test
    corrected = accession("777-3", 30, status="corrected")
    assert await observation(lab, corrected) == 201
    assert sorted(await standing_values(lab)) == [0.4, 30]
    status, entries = await post(
        lab, "/fhir", bundle("batch", [accession("751-8", 0.5, "amended")])
    )
    assert (status, entries) == (200, [201])
    assert sorted(await standing_values(lab)) == [0.5, 30]
    assert await rejection_codes(lab) == []


async def test_a_result_stored_under_its_order_number_alone_is_still_found(lab: Lab) -> None:
    # before review 121 a FILL identifier keyed the result as written, without the test:
    # the key an untyped identifier still makes
    before = identified(ident("urn:lab:accession", "ACC-OLD"), value=44)
    assert await observation(lab, before) == 201
    corrected = identified(
        ident("urn:lab:order", "ORD-9", "PLAC"), ident("urn:lab:accession", "ACC-OLD", "FILL"),
        status="corrected", value=4.4,
    )  # fmt: skip
    assert await observation(lab, corrected) == 201
    assert await standing_values(lab) == [4.4]
    assert await stored_count(lab) == 2
