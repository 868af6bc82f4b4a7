"""Review 69: the README's "Try it" FHIR example, sent by the sender the README configures.

The README configures its sender with both names of the hospital's assigning authority,
HL7 v2's namespace and FHIR's system:

    cachexia source add --application LIS --facility HOSP \\
        --time-zone Europe/Zurich --site CH-01 \\
        --identifier-authority HOSP --identifier-authority urn:hosp
    cachexia token create --role lab --name "central lab" --sender LIS^HOSP

and gives the Observation to send with that token:

    "subject": {"identifier": {"system": "urn:hosp", "value": "MRN123"}},

Before, a sender had one authority name: configured HOSP, `urn:hosp` was another authority,
"never matched", and every FHIR result of a lab integrated by the README was refused (422)
once its patients were enrolled. Configured by both names, the FHIR and the HL7 result of
the enrolled patient are stored; a number of a third authority is still never matched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


def observation(identifier: str, system: str) -> dict[str, object]:
    """The README's Observation (its MRN123 is the enrolled ``MRN``), named by ``system``."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:lab:central", "value": identifier}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"identifier": {"system": system, "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {
            "value": 12.5,
            "unit": "mg/L",
            "system": "http://unitsofmeasure.org",
            "code": "mg/L",
        },
    }


async def readme_sender(lab: Lab, *names: str) -> str:
    """The README's ``source add`` with the authority's ``names``, and its token."""
    async with lab.pool.acquire() as conn:
        await add_source(
            conn, "LIS", "HOSP", time_zone="Europe/Zurich", site_id="CH-01",
            identifier_authority=names,
        )  # fmt: skip
        token = await create_token(conn, "central lab", Role.LAB, ["LIS^HOSP"])
    await asyncio.sleep(2.5)  # "live within 2 s"
    return token


async def fhir(lab: Lab, token: str, body: dict[str, object]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/fhir/Observation",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        ) as answer,
    ):
        return answer.status, await answer.text()


async def hl7(lab: Lab, token: str, message: str) -> list[str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/v1/hl7",
            data=message,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "x-application/hl7-v2+er7",
            },
        ) as answer,
    ):
        return msa(await answer.text())


async def test_the_readme_observation_is_stored_for_the_readme_sender(lab: Lab) -> None:
    token = await readme_sender(lab, "HOSP", "urn:hosp")
    status, body = await fhir(lab, token, observation("OBS-1", "urn:hosp"))
    assert status == 201, (status, body)
    # the same laboratory over HL7 names the authority HOSP: matched as well
    fields = await hl7(lab, token, oru("MSG-1", [obx("1988-5", "13", "mg/L")]))
    assert fields[1] == "AA", fields
    subjects = await lab.pool.fetch("SELECT DISTINCT subject_id FROM results")
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 2
    assert len(subjects) == 1


async def test_a_third_authoritys_number_is_still_never_matched(lab: Lab) -> None:
    """The enrolled patient's number, written under another hospital's authority: not the
    patient's (a number is unique only within its authority), over FHIR and HL7 alike."""
    token = await readme_sender(lab, "HOSP", "urn:hosp")
    status, body = await fhir(lab, token, observation("OBS-2", "urn:oid:1.2.3.4.5.6"))
    assert status == 422 and "missing-patient-identifier" in body, (status, body)
    assert "'HOSP' or 'urn:hosp'" in body and MRN not in body
    pid3 = f"{MRN}^^^OTHERHOSP^MR"
    fields = await hl7(lab, token, oru("MSG-2", [obx("1988-5", "13", "mg/L")], pid3=pid3))
    assert fields[1] == "AE" and MRN not in fields[3], fields
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_one_name_matches_only_numbers_named_by_it_as_before(lab: Lab) -> None:
    """Configured by the HL7 namespace alone (as before the README named both), FHIR's
    urn:hosp is another authority's: refused, the reason naming the configured one."""
    token = await readme_sender(lab, "HOSP")
    status, body = await fhir(lab, token, observation("OBS-3", "urn:hosp"))
    assert status == 422 and "assigning authority 'HOSP';" in body, (status, body)
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
