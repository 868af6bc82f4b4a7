"""Review 132: a hospital number as a Patient's logical id (``subject.reference`` of
``Patient/MRN4711``, and nothing else naming the patient) was kept verbatim in a rejection's
copy. Every reference to a person's resource has its id replaced by the id's keyed hash, as
an identifier is, so that a reference and the resource it names still match in the copy:
nothing of the number is in any table, in ``lab.rejected.v1`` or in the logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import post
from tests.integration.test_lab_phi_sweep import every_row

pytestmark = pytest.mark.integration

NUMBER = "MRN4711"
COLLECTED = "2026-11-20T08:00:00+01:00"


def _observation(identifier: str, subject: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": identifier}],
        "subject": {"reference": subject},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "effectiveDateTime": COLLECTED, "valueQuantity": {"value": 20, "unit": "furlongs"},
        **more,
    }  # fmt: skip


async def test_a_patient_named_by_its_id_in_a_reference_keeps_no_number_anywhere(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    references = [
        f"Patient/{NUMBER}",
        f"https://hospital.example/fhir/Patient/{NUMBER}",
        f"Patient/{NUMBER}/_history/2",
    ]
    answers = []
    for n, reference in enumerate(references):
        status, answer = await post(lab, "/fhir/Observation", _observation(f"R132-{n}", reference))
        answers.append(answer)
        assert status in (400, 422), answer
    bundle = {
        "resourceType": "Bundle", "type": "batch",
        "entry": [
            {"fullUrl": f"https://hospital.example/fhir/Patient/{NUMBER}",
             "resource": {"resourceType": "Patient", "id": NUMBER},
             "request": {"method": "PUT", "url": f"Patient/{NUMBER}"}},
            {"resource": _observation("R132-B", f"Patient/{NUMBER}",
                                      specimen={"reference": "#s1"},
                                      contained=[{"resourceType": "Specimen", "id": "s1",
                                                  "subject": {"reference": f"Patient/{NUMBER}"}}]),
             "request": {"method": "POST", "url": "Observation"}},
        ],
    }  # fmt: skip
    status, answer = await post(lab, "/fhir", bundle)
    answers.append(answer)
    assert status in (200, 400, 422), answer
    rows = await lab.pool.fetch("SELECT payload FROM rejections ORDER BY received_at")
    assert len(rows) == len(references) + 1, rows
    events = await lab.events(LAB_REJECTED, len(rows))
    tables = await every_row(lab)
    leaks = {table for table, text in tables.items() if NUMBER.lower() in text.lower()}
    assert not leaks, {table: tables[table] for table in leaks}
    for event in events:
        assert NUMBER.lower() not in json.dumps(event.payload).lower(), event.payload
    for answer in answers:
        assert NUMBER.lower() not in answer.lower(), answer
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert NUMBER.lower() not in logged.lower()
    # the reference and the resource it names still match in the copy
    copies = [json.loads(row["payload"]) for row in rows]
    hashed = copies[0]["subject"]["reference"].removeprefix("Patient/")
    assert len(hashed) == 64, copies[0]
    assert copies[1]["subject"]["reference"] == f"https://hospital.example/fhir/Patient/{hashed}"
    assert copies[2]["subject"]["reference"] == f"Patient/{hashed}/_history/2"
