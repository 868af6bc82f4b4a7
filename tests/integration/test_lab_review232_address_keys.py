"""Review 232 through POST /v1/lab-results, POST /fhir/Observation and PostgreSQL: an
address sent as one line (``Gartenweg 3, 3600 Thun``) leaves neither its city nor its street
in the kept copy, ``rejection show`` and the rejection's event when it comes

- (D1) under a JSON key naming an address line with its number glued on (``addressLine1``,
  ``street1``, ``adresse1``, ``line1``: the number was taken as part of the word, so the key
  was no address line's and only the whole line was searched for), or under ``addr``;
- (D2) as the value of a FHIR extension whose URL says only that it is a place of residence
  (``.../residence``, ``.../place-of-residence``, ``.../wohnort``), on the Observation or on
  its contained Patient: the value was dropped but not searched for elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from shared.auth import Role, create_token
from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import post, shown

pytestmark = pytest.mark.integration

COLLECTED = "2026-11-20T08:00:00+01:00"
LINE = "Gartenweg 3, 3600 Thun"
NOTE = "wohnt in Thun, Gartenweg 3"


def _leaves_no_address(text: str) -> bool:
    return "Thun" not in text and "Gartenweg" not in text


@pytest.mark.parametrize(
    "key",
    ["addressLine1", "address_line1", "addressLine2", "mailingAddressLine1", "street1",
     "adresse1", "strasse1", "line1", "ADDRESS-LINE1", "Wohnadresse2", "addr"],
)  # fmt: skip
@pytest.mark.parametrize("where", ["patient", "top"])
async def test_a_json_address_line_key_with_its_number_leaves_neither_city_nor_street(
    lab: Lab, key: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reference range ``wohnt in Thun, Gartenweg 3`` was kept as sent beside
    ``{"addressLine1": "Gartenweg 3, 3600 Thun"}`` (in ``patient`` or at the top level)."""
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "lab-json", Role.LAB, ["LIS^HOSP"])
    line: dict[str, object] = {key: LINE}
    result = {"result_id": "J1", "loinc": "1988-5", "value": "12", "unit": "furlongs",
              "status": "final", "collected_at": COLLECTED, "reference_range": NOTE}  # fmt: skip
    body = {"message_id": "J-1", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN, **(line if where == "patient" else {})},
            "results": [result], **(line if where == "top" else {})}  # fmt: skip
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}/v1/lab-results", headers={"Authorization": f"Bearer {token}"}, json=body
    ) as answer:  # fmt: skip
        assert answer.status in (400, 422), await answer.text()
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    kept = json.loads(payload)
    assert kept["results"][0]["reference_range"] == "wohnt in [redacted], [redacted]", kept
    assert kept["results"][0]["result_id"] == "J1", kept
    assert kept["source"] == {"application": "LIS", "facility": "HOSP"}, kept
    assert _leaves_no_address(payload), payload
    out = await shown(lab, capsys)
    assert _leaves_no_address(out), out


def _observation(*, on_patient: list[Any] | None, on_observation: list[Any] | None) -> Any:
    """A CRP of the patient ``MRN`` in an unknown unit (refused, kept), its component's
    note ``NOTE``."""
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "p1",
                               "identifier": [{"system": "urn:hosp", "value": MRN}]}  # fmt: skip
    if on_patient is not None:
        patient["extension"] = on_patient
    observation: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": "R232-1"}],
        "contained": [patient], "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP"},
        "effectiveDateTime": COLLECTED, "valueQuantity": {"value": 20, "unit": "furlongs"},
        "referenceRange": [{"text": "0-5"}],
        "component": [{"code": {"text": "note"}, "valueString": NOTE}],
    }  # fmt: skip
    if on_observation is not None:
        observation["extension"] = on_observation
    return observation


@pytest.mark.parametrize(
    "url",
    ["http://example.org/fhir/StructureDefinition/residence",
     "http://example.org/fhir/StructureDefinition/place-of-residence",
     "http://fhir.example.ch/StructureDefinition/wohnort",
     "http://example.org/fhir/StructureDefinition/lieuDeResidence"],
)  # fmt: skip
@pytest.mark.parametrize("on", ["observation", "patient"])
async def test_a_fhir_residence_extension_value_is_scrubbed_elsewhere(
    lab: Lab, url: str, on: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A component's ``wohnt in Thun, Gartenweg 3`` was kept as sent beside an extension
    ``residence`` holding ``Gartenweg 3, 3600 Thun`` (only a URL naming a person, ``patient``,
    ``birth``, ``address``..., made its value searched for)."""
    extension = [{"url": url, "valueString": LINE}]
    body = _observation(
        on_patient=extension if on == "patient" else None,
        on_observation=extension if on == "observation" else None,
    )
    status, answer = await post(lab, "/fhir/Observation", body)
    assert status == 422, answer
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    kept = json.loads(payload)
    assert kept["component"][0]["valueString"] == "wohnt in [redacted], [redacted]", kept
    assert kept["identifier"][0]["value"] == "R232-1", kept
    if on == "observation":  # (a contained Patient keeps only its id and identifier)
        assert kept["extension"] == [{"url": url}], kept
    assert _leaves_no_address(payload), payload
    events = await lab.pool.fetch("SELECT convert_from(envelope, 'UTF8') FROM outbox")
    for (event,) in events:
        assert _leaves_no_address(event), event
    out = await shown(lab, capsys)
    assert _leaves_no_address(out), out
