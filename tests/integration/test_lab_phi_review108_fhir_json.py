"""Review 108: personal values FHIR and JSON inputs kept where none may be, through the real
HTTP endpoints: a name of two letters in kept copies (HL7's are searched from two letters),
free text where a resource's type belongs, a JSON sender named by the patient's number.

Each input names the enrolled patient (``MRN``) with a CRP in a unit the trial cannot
convert (``furlongs``: 422, kept), so what is checked is what the kept copy holds and what
``cachexia rejection show`` prints of it.
"""

from __future__ import annotations

import argparse
import json
import re
import uuid
from typing import Any

import aiohttp
import pytest

from cachexia.rejections import run_rejection_command
from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_sweep import every_row

pytestmark = pytest.mark.integration

COLLECTED = "2026-11-20T08:00:00+01:00"


async def shown(lab: Lab, capsys: pytest.CaptureFixture[str]) -> str:
    """What `cachexia rejection show` prints for every rejection."""
    out = []
    for (rejection_id,) in await lab.pool.fetch("SELECT rejection_id FROM rejections"):
        args = argparse.Namespace(command="rejection", rejection_command="show",
                                  rejection_id=uuid.UUID(str(rejection_id)))  # fmt: skip
        assert await run_rejection_command(lab.settings, args) == 0
        out.append(capsys.readouterr().out)
    return "\n".join(out)


async def post(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, str]:
    content_type = "application/json" if path.startswith("/v1") else "application/fhir+json"
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}{path}", data=json.dumps(body), headers=headers) as answer,
    ):
        return answer.status, await answer.text()


# --- a name of two letters (Wu, Li, Xu, Ng, Le, Vu, Ho) ----------------------------------


async def test_a_fhir_patient_named_by_two_letters_is_scrubbed_from_the_copy(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A contained Patient Wu Li: its name is removed, and so are its copies in the
    Observation's code text and a component's value; the result's unit, code, status and
    flag (``H``, ``L``: no name) are kept as sent."""
    code = {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP - Wu, Li"}
    flags = [{"coding": [{"code": "H"}]}, {"coding": [{"code": "L"}]}]
    observation: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": "R108-F2"}],
        "contained": [{"resourceType": "Patient", "id": "p1",
                       "identifier": [{"system": "urn:hosp", "value": MRN}],
                       "name": [{"family": "Wu", "given": ["Li"]}]}],
        "subject": {"reference": "#p1"},
        "code": code, "effectiveDateTime": COLLECTED,
        "valueQuantity": {"value": 20, "unit": "furlongs"}, "interpretation": flags,
        "component": [{"code": {"text": "drawn by"}, "valueString": "li"}],
    }  # fmt: skip
    status, answer = await post(lab, "/fhir/Observation", observation)
    assert status == 422, answer
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    kept = json.loads(payload)
    assert "name" not in kept["contained"][0]
    assert kept["code"]["text"] == "CRP - [redacted], [redacted]", payload
    assert kept["component"][0]["valueString"] == "[redacted]", payload
    assert kept["code"]["coding"] == code["coding"]
    assert kept["valueQuantity"] == {"value": 20, "unit": "furlongs"}
    assert kept["interpretation"] == flags
    assert kept["status"] == "final"
    for text in (payload, await shown(lab, capsys)):
        assert not re.search(r"\b(?:wu|li)\b", text, re.IGNORECASE), text


async def test_a_json_patient_named_by_two_letters_is_scrubbed_from_the_copy(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON format's patient fields it has not (refused, kept without them): their
    two-letter name parts are scrubbed from a result's id and reference range."""
    body = {
        "message_id": "R108-J2",
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN, "family": "Ng", "given": "Vu"},
        "results": [{"result_id": "R1-Ng", "loinc": "1988-5", "value": "12", "unit": "furlongs",
                     "reference_range": "see Vu Ng", "status": "final",
                     "collected_at": COLLECTED}],
    }  # fmt: skip
    status, answer = await post(lab, "/v1/lab-results", body)
    assert status == 400, answer  # fields the schema has not: refused, kept
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    result = json.loads(payload)["results"][0]
    assert result["reference_range"] == "see [redacted] [redacted]", payload
    assert result["unit"] == "furlongs" and result["status"] == "final"
    assert result["result_id"] == "R1-[redacted]", payload
    for text in (payload, await shown(lab, capsys)):
        assert not re.search(r"\b(?:ng|vu)\b", text, re.IGNORECASE), text


# --- free text where a resource's type belongs -------------------------------------------


async def test_free_text_where_a_bundle_entrys_resource_type_belongs_is_not_kept(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transaction entry whose resourceType is a name and a birth date (a broken converter
    writing a display there), and a contained resource's: masked as a status that is no code
    is; the entry's Observation keeps its type."""
    text = "Hubermann Roswitha 17.03.1951"
    crp = {"resourceType": "Observation", "status": "final",
           "contained": [{"resourceType": "Roswitha Hubermann", "id": "x"}]}  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": text, "status": "final"},
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:2", "resource": crp,
         "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip
    status, answer = await post(lab, "/fhir", bundle)
    assert 400 <= status < 500 and "Hubermann" not in answer, answer
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    entries = json.loads(payload)["entry"]
    assert entries[0]["resource"]["resourceType"] == "[redacted]", payload
    assert entries[1]["resource"]["resourceType"] == "Observation"
    assert entries[1]["resource"]["contained"] == [{"resourceType": "[redacted]", "id": "x"}]
    for kept in (payload, await shown(lab, capsys)):
        assert "Hubermann" not in kept and "Roswitha" not in kept, kept


# --- a JSON sender named by the patient's hospital number ----------------------------------

SENDERS_WITH_THE_NUMBER = [("LIS-MRN4711", "HOSP"), ("LISmrn4711", "HOSP"), ("LIS", "MRN4711")]


def json_body(message_id: str, application: str, facility: str) -> dict[str, Any]:
    return {"message_id": message_id,
            "source": {"application": application, "facility": facility},
            "patient": {"identifier": MRN},
            "results": [{"result_id": "R1", "loinc": "1988-5", "value": "12", "unit": "mg/L",
                         "status": "final", "collected_at": COLLECTED}]}  # fmt: skip


async def test_a_json_sender_that_holds_the_patients_number_is_refused_and_kept_without_it(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token bound to no sender delivers JSON as any sender; one named by the patient's
    hospital number (as written, run into it, in any case) is no sender's name: the message
    is refused (422, kept), nothing is stored or published, and neither its kept copy, its
    source, reason nor its ``lab.rejected.v1`` event holds the number."""
    for n, (application, facility) in enumerate(SENDERS_WITH_THE_NUMBER):
        body = json_body(f"R108-J{n}", application, facility)
        status, answer = await post(lab, "/v1/lab-results", body)
        assert status == 422, answer
        assert "hospital number" in answer and MRN.lower() not in answer.lower(), answer
    events = await lab.events(LAB_REJECTED, len(SENDERS_WITH_THE_NUMBER))
    tables = await every_row(lab)
    assert not tables["messages"] and not tables["results"], tables
    leaks = {table for table, text in tables.items() if MRN.lower() in text.lower()}
    assert not leaks, {table: tables[table] for table in leaks}
    for event in events:
        assert MRN.lower() not in json.dumps(event.payload).lower(), event.payload
    assert MRN.lower() not in (await shown(lab, capsys)).lower()


async def test_an_invalid_json_body_keeps_no_number_run_into_its_sender(lab: Lab) -> None:
    """Refused for what is wrong with it (400, kept under its copy's sender): a number run
    into the sender's name is masked there, as in a message id."""
    body = json_body("R108-J9", "LISMRN4711", "HOSP")
    del body["results"]
    status, answer = await post(lab, "/v1/lab-results", body)
    assert status == 400, answer
    row = await lab.pool.fetchrow("SELECT source, reason, payload FROM rejections")
    assert row is not None and row["source"].startswith("LIS#"), row
    assert not any(MRN.lower() in str(value).lower() for value in row.values()), row


async def test_a_json_sender_that_holds_no_patients_number_still_delivers(lab: Lab) -> None:
    """As documented: a token bound to no sender delivers as any sender, listed or not."""
    for n, application in enumerate(["LIS", "LIS-4712", "MRN471"]):
        body = json_body(f"R108-K{n}", application, "HOSP")
        status, answer = await post(lab, "/v1/lab-results", body)
        assert status == 202, answer


async def test_a_fhir_copy_keeps_no_number_run_into_its_meta_source(lab: Lab) -> None:
    """FHIR names no sender (a push is its token's, ``<token name>^FHIR``); ``meta.source``,
    the sending system as the lab names it, is read by nobody and kept in the copy, a
    number run into it masked as in an id."""
    observation = {
        "resourceType": "Observation", "status": "final", "meta": {"source": "urn:lis:LISMRN4711"},
        "identifier": [{"system": "urn:lab", "value": "R108-F9"}],
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "effectiveDateTime": COLLECTED, "valueQuantity": {"value": 20, "unit": "furlongs"},
    }  # fmt: skip
    status, answer = await post(lab, "/fhir/Observation", observation)
    assert status == 422, answer
    row = await lab.pool.fetchrow("SELECT source, payload FROM rejections")
    assert row is not None and row["source"].endswith("^FHIR"), row
    assert json.loads(row["payload"])["meta"]["source"].startswith("urn:lis:LIS#"), row
    assert MRN.lower() not in row["payload"].lower(), row
