"""FHIR create answers: 201 Created only with a stored result to name in its Location
(FHIR R4 http.html#create: a 201 "SHALL also return a Location header"; a batch or
transaction entry answered 201 carries response.location). An entered-in-error or cancelled
Observation of a stored result creates nothing: 200, no Location (review 66)."""

from __future__ import annotations

import json

from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, message


def _fhir(control_id: str, status: str) -> IngestLabMessage:
    command = message(control_id, status=status, key="Observation/crp-1")
    lab = command.message.__class__(**{**command.message.__dict__, "channel": Channel.FHIR})
    return IngestLabMessage(lab, lambda: "", command.received_at)


async def test_an_entered_in_error_observation_is_not_a_201_without_location() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([_fhir("v1", "F")])
    assert stored.accepted and stored.results == 1
    (withdrawn,) = await ingest([_fhir("v2", "D")])  # entered-in-error
    assert withdrawn.accepted, withdrawn
    response = fhir.observation_response(withdrawn)
    assert not (response.status == 201 and "Location" not in response.headers), (
        f"{response.status} Created without a Location header "
        f"(outcome results={withdrawn.results}, cancelled={withdrawn.cancelled})"
    )


async def test_a_batch_entry_of_an_entered_in_error_observation_has_a_location_if_201() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([_fhir("v1", "F")])
    assert stored.results == 1
    (withdrawn,) = await ingest([_fhir("v2", "D")])
    assert withdrawn.accepted, withdrawn
    status, _issues, location = fhir._entry(withdrawn)
    body = json.dumps({"status": status, "location": location})
    assert not (status == 201 and location is None), f"response entry {body}"


async def test_a_withdrawal_is_200_saying_the_earlier_result_was_withdrawn() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([_fhir("v1", "F")])
    created = fhir.observation_response(stored)
    assert created.status == 201
    assert created.headers["Location"] == f"Observation/{stored.result_ids[0]}/_history/1"
    (withdrawn,) = await ingest([_fhir("v2", "X")])  # cancelled
    response = fhir.observation_response(withdrawn)
    assert response.status == 200
    assert "Location" not in response.headers
    assert response.text is not None
    (issue,) = json.loads(response.text)["issue"]
    assert issue["severity"] == "information"
    assert "withdrawn" in issue["diagnostics"]
    status, _issues, location = fhir._entry(withdrawn)
    assert (status, location) == (200, None)
