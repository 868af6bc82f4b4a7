"""A FHIR result's identifiers (reviews 121, 122): its key is an order number's (FILL, PLAC,
with the test) or its first untyped identifier's as sent; a resend or withdrawal listing them
in another order finds the stored result whose own key another of them is, of the same
analyte and patient, and never one a shared (visit, accession) number merely names: another
sample's, another test's or another patient's result is never taken over. Identifiers naming
two stored results are refused; an order number shared by a panel's Observations keys each
test's result apart. Through POST /fhir/Observation and /fhir (transaction, batch) on real
PostgreSQL and broker."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.contracts.events.trial import SubjectEnrolled
from shared.contracts.identity import hospital_id_hmac
from shared.secrets import subject_hmac_key
from shared.subjects import SubjectDirectory
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
    # the identifier it gained, alone, is no stored result's own key: it names nothing
    alone = identified(ident("urn:lab:instance", "Q2-B"), status="entered-in-error")
    await observation(lab, alone)
    assert await standing_values(lab) == [4.4]
    withdrawal = identified(
        ident("urn:lab:instance", "Q2-B"), ident("urn:lab", "Q2-A"), status="entered-in-error"
    )
    assert await observation(lab, withdrawal) == 200
    assert await standing_values(lab) == []


async def test_identifiers_of_two_stored_results_are_refused_and_kept(lab: Lab) -> None:
    one = identified(ident("urn:lab", "R-ONE"), value=30)
    two = identified(ident("urn:lab", "R-TWO"), value=40)
    two["effectiveDateTime"] = "2026-11-21T08:00:00+01:00"
    both = identified(
        ident("urn:lab", "R-NEW"), ident("urn:lab", "R-TWO"), ident("urn:lab", "R-ONE"),
        status="corrected", value=3,
    )  # fmt: skip
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


def haemoglobin(
    *identifiers: dict[str, Any], value: float, status: str = "final"
) -> dict[str, Any]:
    observation = identified(*identifiers, status=status)
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": "718-7"}]}
    observation["valueQuantity"] = {
        "value": value, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL",
    }  # fmt: skip
    return observation


@pytest.mark.parametrize("status", ["final", "preliminary", "corrected", "entered-in-error"])
async def test_another_samples_result_sharing_a_visit_number_leaves_the_first_alone(
    lab: Lab, status: str
) -> None:
    """Review 122: day 2's CRP shares day 1's (untyped) visit number, never its result."""
    day1 = identified(ident("urn:lab:result", "R-1"), ident("urn:lab:visit", "V-77"), value=20)
    day2 = identified(
        ident("urn:lab:result", "R-2"), ident("urn:lab:visit", "V-77"), value=5, status=status
    )
    day2["effectiveDateTime"] = "2026-11-22T08:00:00+01:00"
    assert await observation(lab, day1) == 201
    await observation(lab, day2)
    assert "result-of-another-sample" not in await rejection_codes(lab)
    # day 1's final stands whatever day 2 says; a correction of no stored result is refused
    assert await standing_values(lab) == ([5, 20] if status == "final" else [20])
    assert await stored_count(lab) == (1 if status in {"corrected", "entered-in-error"} else 2)


@pytest.mark.parametrize("accession_system", ["urn:lab:acc", "urn:a"])  # urn:a sorts first
async def test_a_panels_untyped_accession_number_keys_no_result(
    lab: Lab, accession_system: str
) -> None:
    """Review 122: CRP and haemoglobin of one panel, each its own id, and the accession."""
    crp = identified(ident("urn:lab:result", "R-CRP"), ident(accession_system, "ACC-5"))
    hb = haemoglobin(ident("urn:lab:result", "R-HB"), ident(accession_system, "ACC-5"), value=14)
    assert [await observation(lab, body) for body in (crp, hb)] == [201, 201]
    corrected = haemoglobin(
        ident("urn:lab:result", "R-HB"), ident(accession_system, "ACC-5"), value=13,
        status="corrected",
    )  # fmt: skip
    assert await observation(lab, corrected) == 201
    assert await standing_values(lab) == [13, 20]
    assert await rejection_codes(lab) == []


async def test_another_patients_result_sharing_an_identifier_is_stored(lab: Lab) -> None:
    """Review 122: two patients' results share an untyped (order) number."""
    async with lab.pool.acquire() as conn:
        await SubjectDirectory(conn).enrol(
            "S-SHARED-2",
            SubjectEnrolled(
                site_id="CH-01",
                site_timezone="Europe/Zurich",
                hospital_id_hmac=hospital_id_hmac(subject_hmac_key(lab.settings), "MRN9999"),
                enrolled_at=datetime(2026, 11, 1, tzinfo=UTC),
                day1=date(2026, 11, 2),
            ),
        )
    first = identified(ident("urn:lab:result", "R-A"), ident("urn:lab:acc", "SHARED"), value=20)
    other = identified(ident("urn:lab:result", "R-B"), ident("urn:lab:acc", "SHARED"), value=30)
    other["subject"] = {"identifier": {"system": "urn:hosp", "value": "MRN9999"}}
    assert [await observation(lab, body) for body in (first, other)] == [201, 201]
    assert await standing_values(lab) == [20, 30]
    # nor is a swapped resend of the first taken for the other patient's
    swapped = identified(ident("urn:lab:acc", "SHARED"), ident("urn:lab:result", "R-A"), value=20)
    assert await observation(lab, swapped) in {200, 201}
    assert await stored_count(lab) == 2
    assert await rejection_codes(lab) == []
