"""Review 131 through the real endpoint: the FHIR routes with a trailing slash (an engine's
base URL ending in ``/``) are the same routes, with the same token, role and limits; a
request that takes XML alone is answered 406 in JSON before its body is read, nothing kept
(FHIR R4 http.html#mime-type: ``_format`` overrides ``Accept``)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

LIMIT = 2 * 1024 * 1024  # the service's body limit


def _batch(ident: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "batch",
            "entry": [{"resource": crp_observation(ident),
                       "request": {"method": "POST", "url": "Observation"}}]}  # fmt: skip


async def _count(lab: Lab, table: str) -> int:
    return int(await lab.pool.fetchval(f"SELECT count(*) FROM {table}"))


async def test_the_fhir_paths_with_a_trailing_slash_are_the_same_routes(lab: Lab) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{lab.http}/fhir/Observation/", json=crp_observation("TS-1"), headers=auth
        ) as created:
            assert created.status == 201, await created.text()
            assert created.headers["Location"].endswith("/_history/1")
        async with http.post(f"{lab.http}/fhir/", json=_batch("TS-2"), headers=auth) as batch:
            assert batch.status == 200, await batch.text()
            assert (await batch.json())["entry"][0]["response"]["status"].startswith("201")
        async with http.get(f"{lab.http}/fhir/metadata/") as metadata:
            assert metadata.status == 200
            assert (await metadata.json())["resourceType"] == "CapabilityStatement"
        async with http.get(f"{lab.http}/fhir/Observation/", headers=auth) as other:
            assert (other.status, other.headers.get("Allow")) == (405, "POST")
    assert await _count(lab, "results") == 2


@pytest.mark.parametrize("path", ["/fhir/Observation/", "/fhir/"])
async def test_a_trailing_slash_keeps_the_token_role_and_limits(lab: Lab, path: str) -> None:
    body = crp_observation("TS-3") if path.endswith("Observation/") else _batch("TS-3")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{lab.http}{path}", json=body) as anonymous:
            assert anonymous.status == 401
        site = {"Authorization": f"Bearer {lab.site_token}"}
        async with http.post(f"{lab.http}{path}", json=body, headers=site) as wrong_role:
            assert wrong_role.status == 403
        auth = {"Authorization": f"Bearer {lab.lab_token}"}
        async with http.post(f"{lab.http}{path}", data=b" " * (LIMIT + 1), headers=auth) as big:
            assert big.status == 413
    assert await _count(lab, "results") == 0


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {"Accept": "application/fhir+xml"}),
        ("", {"Accept": "application/xml, text/xml;q=0.5"}),
        ("?_format=xml", {}),
        ("?_format=application/fhir%2Bxml", {"Accept": "application/fhir+json"}),
    ],
)
async def test_xml_alone_is_not_acceptable_and_nothing_is_kept(
    lab: Lab, query: str, headers: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}", **headers}
    async with aiohttp.ClientSession() as http:
        for path, body in (
            ("/fhir/Observation", crp_observation("NA-1")),
            ("/fhir", _batch("NA-2")),
        ):
            async with http.post(f"{lab.http}{path}{query}", json=body, headers=auth) as answer:
                assert answer.status == 406, await answer.text()
                assert answer.content_type == "application/fhir+json"
                outcome = await answer.json()
            assert outcome["resourceType"] == "OperationOutcome"
            assert outcome["issue"][0]["code"] == "not-supported"
        async with http.get(f"{lab.http}/fhir/metadata{query}", headers=headers) as metadata:
            assert metadata.status == 406
    assert (await _count(lab, "results"), await _count(lab, "rejections")) == (0, 0)


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {"Accept": "application/fhir+xml, application/fhir+json;q=0.5"}),
        ("", {"Accept": "*/*"}),
        ("", {"Accept": "text/html"}),  # a browser's: answered JSON as before
        ("", {"Accept": "application/fhir+xml;q=0, application/json"}),
        ("?_format=json", {"Accept": "application/fhir+xml"}),  # _format overrides Accept
    ],
)
async def test_json_allowed_is_answered_in_json(
    lab: Lab, query: str, headers: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}", **headers}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/fhir/Observation{query}", json=crp_observation("OK-1"), headers=auth
        ) as answer,
    ):
        assert answer.status == 201, await answer.text()
        assert answer.headers["ETag"] == 'W/"1"'


async def test_without_a_token_xml_alone_is_401_first(lab: Lab) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/fhir/Observation",
            json=crp_observation("NA-3"),
            headers={"Accept": "application/fhir+xml"},
        ) as answer,
    ):
        assert answer.status == 401


async def test_the_capability_statement_says_json_and_versioned_creates(lab: Lab) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{lab.http}/fhir/metadata") as got:
        statement = await got.json()
    assert statement["format"] == ["json"]
    (observation,) = statement["rest"][0]["resource"]
    assert observation["versioning"] == "versioned"
    assert observation["interaction"] == [{"code": "create"}]
